{#- refresh_also_replaces: a refresh rebuilds the markets_dim and resolutions rows whole (small
    tables, validated whole) besides the trade and ctf rows of its scope's conditions. -#}
{{ config(
    materialized='source_current_table',
    post_hook="{{ record_source_signature() }}",
    refresh_also_replaces="source_table in ('markets_dim', 'resolutions')",
) }}

{#- Every source row kept out of the P&L, with its reason, plus the extra copies of identical
    duplicates that were collapsed into one: the rows the validated models mark is_valid = 0.
    A table built with int_flows_unioned from the same sources, and kept while they are unchanged,
    so the gates read it rather than validating every source row again. raw_row shows the staged
    row (hex ids lower-cased). -#}
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
    from {{ scoped_ref('int_trades_validated') }}
    where is_valid = 0
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
    from {{ scoped_ref('int_ctf_events_validated') }}
    where is_valid = 0
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
    from {{ ref('int_markets_validated') }}
    where is_valid = 0
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
    from {{ ref('int_resolutions_validated') }}
    where is_valid = 0
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
