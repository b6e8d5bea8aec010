{#- One row per valid flow (docs/domain.md section 3) with its condition's resolution.
    A table, built whole before the batches: validation (duplicate ids, the market and
    resolution checks) is global over the sources, so doing it here once instead of in every
    batch's views removes most of a batch's cost. Ordered by batch_key first, so a batch reads
    only its key range, then by position and replay order (outcome, block_time, flow_id), so the
    average-cost lens of `pnl` groups and sorts rows that are already in order. It records the
    sources' signature; a run on unchanged sources keeps it (materialization source_current_table)
    and the marts that read it check it is current. A refresh replaces the rows of its scope's
    conditions only. -#}
{{ config(
    materialized='source_current_table',
    order_by='(batch_key, condition_id, wallet_address, outcome_index, block_time, flow_id)',
    post_hook="{{ record_source_signature() }}",
) }}

with trade_flows as (
    select
        trade_id as flow_id,
        side as flow_type,
        block_time,
        wallet_address,
        market_id,
        condition_id,
        outcome_index,
        outcome_count,
        if(side = 'BUY', shares, -shares) as delta_shares,
        if(side = 'BUY', -usd_value, usd_value) - fee_usd as cash_usd,
        fee_usd,
        batch_key
    from {{ scoped_ref('int_trades_validated') }}
    where is_valid = 1
),

ctf_flows as (
    select
        event_id as flow_id,
        event_type as flow_type,
        block_time,
        wallet_address,
        market_id,
        condition_id,
        outcome_index,
        outcome_count,
        if(event_type = 'SPLIT', shares, -shares) as delta_shares,
        if(event_type = 'SPLIT', -usd_value, usd_value) as cash_usd,
        toDecimal128(0, 6) as fee_usd,
        batch_key
    from {{ scoped_ref('int_ctf_events_validated') }}
    where is_valid = 1
),

flows as (
    select * from trade_flows
    union all
    select * from ctf_flows
),

resolutions as (
    select condition_id, payout_numerators, payout_denominator, resolved_at
    from {{ ref('int_resolutions_validated') }}
    where is_valid = 1
),

final as (
    select
        flows.flow_id as flow_id,
        toLowCardinality(flows.flow_type) as flow_type,
        flows.block_time as block_time,
        flows.wallet_address as wallet_address,
        flows.market_id as market_id,
        flows.condition_id as condition_id,
        flows.outcome_index as outcome_index,
        flows.outcome_count as outcome_count,
        toDecimal128(flows.delta_shares, 6) as delta_shares,
        toDecimal128(flows.cash_usd, 6) as cash_usd,
        toDecimal128(flows.fee_usd, 6) as fee_usd,
        toUInt8(resolutions.payout_denominator > 0) as is_resolved,
        toUInt32(if(is_resolved, arrayElement(resolutions.payout_numerators, flows.outcome_index + 1), 0))
            as payout_numerator,
        toUInt64(resolutions.payout_denominator) as payout_denominator,
        if(is_resolved, resolutions.resolved_at, null) as resolved_at,
        flows.batch_key as batch_key
    from flows
    left join resolutions on resolutions.condition_id = flows.condition_id
)

select * from final
