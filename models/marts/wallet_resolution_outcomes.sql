{#- Step E: one row per (wallet, resolved condition) with a position at resolution, its result and
    the pair's realized P&L (docs/domain.md, section 4). Rebuilt a batch-key range at a time, like
    `pnl`; the project's insert_overwrite also empties the range's partitions left without rows.
    max_partitions_per_insert_block: a single-shot build writes every batch-key partition in one
    insert. -#}
-- depends_on: {{ ref('int_flows_unioned') }}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by='batch_key',
    post_hook="{{ record_batch_partitions() }}",
    pre_hook="{{ assert_flows_match_sources() }}",
    query_settings={'max_partitions_per_insert_block': var('batch_partitions') | int},
    order_by='(wallet_address, condition_id)',
) }}
{{ guard_batched_build() }}

with positions as (

    -- the view is compiled without the run's key range: the batch filter belongs here
    select *
    from {{ ref('int_positions_at_resolution') }}
    where {{ in_batch_range('batch_key') }}

),

pair_pnl as (

    -- toNullable: a pair missing from pnl_positions must read as NULL (gate 2), never as 0
    select
        wallet_address,
        condition_id,
        toNullable(realized_pnl_usd) as realized_pnl_usd
    from {{ ref('pnl_positions') }}
    where {{ in_batch_range('batch_key') }}

),

final as (

    select
        positions.wallet_address as wallet_address,
        positions.condition_id as condition_id,
        positions.market_id as market_id,
        positions.final_outcome_index as final_outcome_index,
        positions.final_side as final_side,
        positions.held_shares as held_shares,
        positions.p_final as p_final,
        positions.result as result,
        positions.won as won,
        pair_pnl.realized_pnl_usd as pnl_usd,
        positions.num_flows as num_flows,
        positions.resolved_at as resolved_at,
        positions.category as category,
        positions.batch_key as batch_key,
        now64(3, 'UTC') as computed_at
    from positions
    left join pair_pnl
        on positions.wallet_address = pair_pnl.wallet_address
        and positions.condition_id = pair_pnl.condition_id

)

select * from final
