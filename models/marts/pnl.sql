{#- max_partitions_per_insert_block: a single-shot build writes every batch-key partition in one insert. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by='batch_key',
    post_hook="{{ record_batch_partitions() }}",
    pre_hook="{{ assert_flows_match_sources() }}",
    query_settings={'max_partitions_per_insert_block': var('batch_partitions') | int},
    order_by='(condition_id, wallet_address, flow_id)',
) }}
{{ guard_batched_build() }}

{#- Realized P&L of every valid flow: delta * num / S + cash, exact (section 3). -#}
with flows as (
    select *
    from {{ ref('int_flows_unioned') }}
    where {{ in_batch_range('batch_key') }}
),

priced as (
    select
        *,
        -- num / S need not terminate (1/3): 18 decimals in Decimal256, rounded to 12 once at the end;
        -- greatest() only keeps the unused branch of if() from dividing by zero
        toDecimal256(cash_usd, 18)
            + toDecimal256(delta_shares, 18) * payout_numerator / greatest(payout_denominator, 1) as flow_pnl
    from flows
),

final as (
    select
        flow_id,
        flow_type,
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
        if(is_resolved = 1, toDecimal128(round(flow_pnl, 12), 12), null) as realized_pnl_usd,
        batch_key,
        now64(3, 'UTC') as computed_at
    from priced
)

select * from final
