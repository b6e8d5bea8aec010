{#- max_partitions_per_insert_block: a single-shot build writes every batch-key partition in one insert.
    optimize_aggregation_in_order: int_flows_unioned is stored in the lens's grouping and replay
    order, so its groups are read in order instead of hashed (a tenth of the lens's cost, `make bench`). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by='batch_key',
    post_hook="{{ record_batch_partitions() }}",
    pre_hook="{{ assert_flows_match_sources() }}",
    query_settings={'max_partitions_per_insert_block': var('batch_partitions') | int,
                    'optimize_aggregation_in_order': 1},
    order_by='(condition_id, wallet_address, flow_id)',
) }}
{{ guard_batched_build() }}

{#- Realized P&L of every valid flow: delta * num / S + cash, rounded half-even once (sections 3, 7). -#}
with flows as (
    select *
    from {{ ref('int_flows_unioned') }}
    where {{ in_batch_range('batch_key') }}
),

{#- var avg_cost_lens (default true): `make bench` compiles Step D without the lens to time its share. -#}
{% if var('avg_cost_lens', true) %}
{#- The average-cost lens (docs/domain.md section 8), replayed per (wallet, condition, outcome) in
    block_time, flow_id order. Integers keep it exact: shares in micro-shares and cash in pico-USD
    as Int128, products in Int256. Valid inputs are at most 1e15 (section 7), so a position would
    need over 1e11 flows to reach Int128's 1.7e38. The flows come back out of the replay with every
    column final reads (avg_cost_priced): joining the lens back onto the flows cost more than the
    lens itself. Moving the rows through the replay is most of its cost, so the legs carry only
    what differs per flow: a position's market, outcome count and payout are its aggregates, and a
    flow's P&L is priced after the replay. -#}
avg_cost_legs as (
    select
        *,
        toInt128(delta_shares * 1000000) as delta_micro,
        -- c * q of the whole leg: the row's usd_value (its cash without the fee; the lens ignores
        -- fees); a REDEEM is a sell for the cash it received (docs/domain.md section 8), not
        -- q * p_i, so lens and section 3 agree on a closed pair whatever the chain's rounding
        toInt128(abs(cash_usd + fee_usd) * 1000000) * 1000000 as value_pico
    from flows
),

avg_cost_replayed as (
    select
        batch_key,
        condition_id,
        wallet_address,
        outcome_index,
        -- one market, outcome count and resolution per condition, one payout per outcome
        any(market_id) as market_id,
        any(outcome_count) as outcome_count,
        any(is_resolved) as is_resolved,
        any(payout_numerator) as payout_numerator,
        any(payout_denominator) as payout_denominator,
        -- the flows' other columns ride along, so the rows come back out of the replay with no join
        arraySort(groupArray((block_time, flow_id, flow_type, delta_micro, value_pico,
                              delta_shares, cash_usd, fee_usd))) as legs,
        legs.4 as deltas,
        legs.5 as leg_values,
        -- the amount held after each leg; a sell takes q' = min(q, amount), so it never goes below 0
        arrayCumSumNonNegative(deltas) as amounts,
        arrayPushFront(arrayPopBack(amounts), toInt128(0)) as amounts_before,
        arrayMap((d, a, b) -> if(d > 0, toInt128(0), b - a), deltas, amounts, amounts_before) as sold,
        -- the cost basis (pico-USD) before the first leg and after each: a buy or split adds its
        -- value; a sell of q' takes round_half_even(q' * basis / amount) from the exact running
        -- totals (section 7), never a rounded average price times q', and the sell that empties
        -- the position takes the whole rest. It is the one step that needs the previous state.
        arrayFold(
            (acc, d, s, b, v) -> arrayPushBack(acc, toInt128(if(d > 0, acc[-1] + v,
                acc[-1] - if(s = 0, toInt256(0), if(s = b, toInt256(acc[-1]),
                    {{ round_half_even_int('toInt256(s) * acc[-1]', 'b') }}))))),
            deltas, sold, amounts_before, leg_values, [toInt128(0)]) as basis_running,
        arrayMap((after, before) -> after - before, arrayPopFront(basis_running), arrayPopBack(basis_running))
            as basis_changes,
        arrayMap((d, s) -> if(d > 0, d, -s), deltas, sold) as amount_changes,
        -- q' * c - the cost of the q' tokens; q' * c is the leg's whole value unless clamped, then
        -- its share of it rounded half-even
        arrayMap((d, v, s, c) -> if(d > 0, toInt128(0),
                toInt128(if(s = -d, toInt256(v), {{ round_half_even_int('toInt256(v) * s', '-d') }}) + c)),
            deltas, leg_values, sold, basis_changes) as realized_pico
    from avg_cost_legs
    group by batch_key, condition_id, wallet_address, outcome_index
),

avg_cost_priced as (
    select
        batch_key,
        condition_id,
        wallet_address,
        outcome_index,
        block_time,
        flow_id,
        flow_type,
        market_id,
        outcome_count,
        delta_shares,
        cash_usd,
        fee_usd,
        is_resolved,
        {{ flow_pnl_sql() }} as flow_pnl,
        toDecimal128(toDecimal256(realized, 12) / 1000000000000, 12) as avg_cost_realized_usd,
        toDecimal128(toDecimal256(amount_change, 6) / 1000000, 6) as avg_cost_shares,
        toDecimal128(toDecimal256(basis_change, 12) / 1000000000000, 12) as avg_cost_basis_usd
    from avg_cost_replayed
    array join
        legs.1 as block_time,
        legs.2 as flow_id,
        legs.3 as flow_type,
        legs.6 as delta_shares,
        legs.7 as cash_usd,
        legs.8 as fee_usd,
        realized_pico as realized,
        amount_changes as amount_change,
        basis_changes as basis_change
),

{% else %}
priced as (
    select
        *,
        {{ flow_pnl_sql() }} as flow_pnl
    from flows
),

{% endif %}
final as (
    select
        flow_id,
        -- the replay's arrays drop LowCardinality; the contract keeps it
        toLowCardinality(flow_type) as flow_type,
        block_time,
        wallet_address,
        market_id,
        condition_id,
        outcome_index,
        outcome_count,
        delta_shares,
        cash_usd,
        fee_usd,
        is_resolved,
        if(is_resolved = 1, flow_pnl, null) as realized_pnl_usd,
        -- docs/domain.md section 7: what the chain's rounding kept of a REDEEM, shares * p_i -
        -- usd_value, the negative of its own P&L (half-even rounding is symmetric, so the two
        -- cancel exactly and conservation adds it back)
        if(flow_type = 'REDEEM' and is_resolved = 1, -flow_pnl, toDecimal128(0, 12)) as redeem_shortfall,
        batch_key,
        now64(3, 'UTC') as computed_at
        {%- if var('avg_cost_lens', true) %},
        avg_cost_realized_usd,
        avg_cost_shares,
        avg_cost_basis_usd
        {%- endif %}
    from {{ 'avg_cost_priced' if var('avg_cost_lens', true) else 'priced' }}
)

select * from final
