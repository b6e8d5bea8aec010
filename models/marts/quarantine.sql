{{ config(materialized='view') }}

{#- Every source row kept out of the P&L, with its reason, plus the extra copies of identical
    duplicates that were collapsed into one. A view, so it always reflects the current sources. -#}
with trades as (
    select
        'trades_raw' as source_table,
        trade_id as row_id,
        formatRowNoNewline('JSONEachRow', trade_id, tx_hash, block_time, wallet_address, market_id,
                           condition_id, outcome_index, side, shares, usd_value, fee_usd) as raw_row,
        condition_id,
        batch_key,
        quarantine_reason,
        is_collapsed
    from {{ ref('stg_polymarket__trades') }}
    where quarantine_reason != '' or is_collapsed = 1
),

ctf_events as (
    select
        'ctf_events' as source_table,
        event_id as row_id,
        formatRowNoNewline('JSONEachRow', event_id, block_time, wallet_address, market_id,
                           condition_id, outcome_index, event_type, shares, usd_value) as raw_row,
        condition_id,
        batch_key,
        quarantine_reason,
        is_collapsed
    from {{ ref('stg_polymarket__ctf_events') }}
    where quarantine_reason != '' or is_collapsed = 1
),

markets as (
    select
        'markets_dim' as source_table,
        market_id as row_id,
        formatRowNoNewline('JSONEachRow', market_id, condition_id, question, category,
                           outcome_count, outcome_labels, end_date) as raw_row,
        condition_id,
        batch_key,
        quarantine_reason,
        is_collapsed
    from {{ ref('stg_polymarket__markets') }}
    where quarantine_reason != '' or is_collapsed = 1
),

resolutions as (
    select
        'resolutions' as source_table,
        condition_id as row_id,
        formatRowNoNewline('JSONEachRow', condition_id, payout_numerators, resolved_at) as raw_row,
        condition_id,
        batch_key,
        quarantine_reason,
        is_collapsed
    from {{ ref('stg_polymarket__resolutions') }}
    where quarantine_reason != '' or is_collapsed = 1
),

rejected as (
    select * from trades
    union all
    select * from ctf_events
    union all
    select * from markets
    union all
    select * from resolutions
),

final as (
    select
        toLowCardinality(source_table) as source_table,
        row_id,
        if(is_collapsed = 1, 'identical copy of another row with the same id', quarantine_reason) as reason,
        raw_row,
        condition_id,
        batch_key,
        toLowCardinality(if(is_collapsed = 1, 'collapsed', 'quarantined')) as action
    from rejected
)

select * from final
