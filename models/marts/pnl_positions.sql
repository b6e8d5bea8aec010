{#- max_partitions_per_insert_block: a single-shot build writes every batch-key partition in one insert. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by='batch_key',
    post_hook="{{ record_batch_partitions() }}",
    query_settings={'max_partitions_per_insert_block': var('batch_partitions') | int},
    order_by='(condition_id, wallet_address)',
) }}
{{ guard_batched_build() }}

{#- var avg_cost_lens (default true): `make bench` compiles Step D without the lens to time its share. -#}
{#- One row per (wallet, condition) pair: its net position by outcome, its cash and its realized
    P&L, the sum of its flows' P&L from `pnl` (so trade P&L decomposes the pair exactly). -#}
with flows as (
    select *
    from {{ ref('pnl') }}
    where {{ in_batch_range('batch_key') }}
),

pairs as (
    select
        wallet_address,
        condition_id,
        min(market_id) as market_id,
        -- n from markets_dim or the payout vector; else as many outcomes as the flows show
        toUInt16(greatest(coalesce(max(outcome_count), 0), max(outcome_index) + 1)) as outcome_count,
        -- sums in Decimal256 narrowed back with an overflow check: never a wrapped total (section 7)
        arrayMap(x -> toDecimal128(x, 6),
                 sumForEach(arrayMap(i -> if(i = outcome_index, toDecimal256(delta_shares, 6), toDecimal256(0, 6)),
                                     range(toUInt16(outcome_index) + 1)))) as net_shares_seen,
        {{ checked_sum('cash_usd', 6) }} as cash_usd,
        {{ checked_sum('fee_usd', 6) }} as fees_usd,
        max(is_resolved) as is_resolved,
        -- the exact sum of the flows' stored 12-decimal values, so trade P&L decomposes the pair
        {{ checked_sum('realized_pnl_usd', 12) }} as realized_pnl_sum,
        -- what the chain's rounding kept of the pair's REDEEMs (docs/domain.md section 7)
        {{ checked_sum('redeem_shortfall', 12) }} as redeem_shortfall_sum,
        count() as num_flows,
        any(batch_key) as batch_key
        {%- if var('avg_cost_lens', true) %},
        -- the average-cost lens (docs/domain.md section 8), in this aggregation because a second
        -- one over the flows costs more than the lens itself: the pair's realized P&L is the exact
        -- sum of its flows', and per outcome the open amount and cost basis are the sums of the
        -- flows' changes to them. Sums in Decimal256 cannot wrap; final narrows them with a check.
        sum(toDecimal256(avg_cost_realized_usd, 12)) as avg_cost_realized_sum,
        sumForEach(arrayMap(i -> if(i = outcome_index, toDecimal256(avg_cost_shares, 6), toDecimal256(0, 6)),
                            range(toUInt16(outcome_index) + 1))) as open_amounts_seen,
        sumForEach(arrayMap(i -> if(i = outcome_index, toDecimal256(avg_cost_basis_usd, 12), toDecimal256(0, 12)),
                            range(toUInt16(outcome_index) + 1))) as open_basis_seen
        {%- endif %}
    from flows
    group by wallet_address, condition_id
),

final as (
    select
        wallet_address,
        condition_id,
        market_id,
        arrayResize(net_shares_seen, outcome_count, toDecimal128(0, 6)) as net_shares,
        toDecimal128(cash_usd, 6) as cash_usd,
        toDecimal128(fees_usd, 6) as fees_usd,
        is_resolved,
        if(is_resolved = 1, toDecimal128(realized_pnl_sum, 12), null) as realized_pnl_usd,
        toDecimal128(redeem_shortfall_sum, 12) as redeem_shortfall,
        num_flows,
        batch_key,
        now64(3, 'UTC') as computed_at
        {%- if var('avg_cost_lens', true) %},
        toDecimal128(avg_cost_realized_sum, 12) as avg_cost_realized_pnl_usd,
        arrayResize(arrayMap(amount -> toDecimal128(amount, 6), open_amounts_seen),
                    outcome_count, toDecimal128(0, 6)) as open_amounts,
        -- the average price is the basis over the amount rounded half-even to 12 decimals
        -- (docs/domain.md section 7), on the integers pico-USD / (micro-shares * 10^6); 0 when
        -- nothing is open
        arrayResize(arrayMap((basis, amount) -> if(amount = 0, toDecimal128(0, 12),
                                 {{ round_half_even('toInt256(basis * 1000000000000)',
                                                    'greatest(toInt256(amount * 1000000), 1) * 1000000', 12) }}),
                             open_basis_seen, open_amounts_seen),
                    outcome_count, toDecimal128(0, 12)) as avg_prices
        {%- endif %}
    from pairs
)

select * from final
