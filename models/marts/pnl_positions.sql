{#- max_partitions_per_insert_block: a single-shot build writes every batch-key partition in one insert. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by='batch_key',
    query_settings={'max_partitions_per_insert_block': var('batch_partitions') | int},
    order_by='(condition_id, wallet_address)',
) }}

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
        sumForEach(arrayMap(i -> if(i = outcome_index, delta_shares, toDecimal128(0, 6)),
                            range(toUInt16(outcome_index) + 1))) as net_shares_seen,
        sum(cash_usd) as cash_usd,
        sum(fee_usd) as fees_usd,
        max(is_resolved) as is_resolved,
        sum(realized_pnl_usd) as realized_pnl_sum,
        count() as num_flows,
        any(batch_key) as batch_key
    from flows
    group by wallet_address, condition_id
),

{#- The average-cost lens (docs/domain.md section 8): the pair's realized P&L is the exact sum of its
    flows' (the sum in Decimal256, narrowed with an overflow check), and each outcome's amount and
    average price are those after its last flow in replay order (block_time, flow_id). -#}
avg_cost_pairs as (
    select
        wallet_address,
        condition_id,
        toDecimal128(sum(toDecimal256(avg_cost_realized_usd, 12)), 12) as avg_cost_realized_pnl_usd,
        -- per outcome index the state after its latest flow: the key ranks the flows on that index
        -- by replay order, above every other flow of the pair
        {%- set replay_key = "arrayMap(i -> (i = outcome_index, block_time, flow_id), range(toUInt16(outcome_index) + 1))" %}
        argMaxForEach(arrayMap(i -> if(i = outcome_index, avg_cost_amount_after, toDecimal128(0, 6)),
                               range(toUInt16(outcome_index) + 1)), {{ replay_key }}) as open_amounts_seen,
        argMaxForEach(arrayMap(i -> if(i = outcome_index, avg_cost_price_after, toDecimal128(0, 12)),
                               range(toUInt16(outcome_index) + 1)), {{ replay_key }}) as avg_prices_seen
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
        num_flows,
        batch_key,
        now64(3, 'UTC') as computed_at,
        avg_cost_pairs.avg_cost_realized_pnl_usd as avg_cost_realized_pnl_usd,
        arrayResize(avg_cost_pairs.open_amounts_seen, outcome_count, toDecimal128(0, 6)) as open_amounts,
        arrayResize(avg_cost_pairs.avg_prices_seen, outcome_count, toDecimal128(0, 12)) as avg_prices
    from pairs
    left join avg_cost_pairs using (wallet_address, condition_id)
)

select * from final
