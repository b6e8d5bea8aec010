{#- Step E, per wallet with at least one resolved pair: won, lost and pushed positions at
    resolution, the accuracy wins / (wins + losses) (docs/domain.md, section 4), and the P&L of all
    its resolved pairs, flat ones included. Rebuilt whole after the last batch. -#}
{{ config(materialized='table', order_by='wallet_address') }}

with resolved_pairs as (

    select
        wallet_address,
        count() as resolved_pairs,
        {{ checked_sum('realized_pnl_usd', 12) }} as total_resolved_pnl_usd
    from {{ ref('pnl_positions') }}
    where is_resolved = 1
    group by wallet_address

),

outcome_totals as (

    select
        wallet_address,
        countIf(result = 'won') as wins,
        countIf(result = 'lost') as losses,
        countIf(result = 'push') as pushes,
        count() as positions,
        {{ checked_sum('pnl_usd', 12) }} as held_at_resolution_pnl_usd,
        1 as has_outcomes
    from {{ ref('wallet_resolution_outcomes') }}
    group by wallet_address

),

final as (

    -- a wallet whose every resolved pair was flat at resolution has no outcome rows: zero counts
    select
        resolved_pairs.wallet_address as wallet_address,
        if(outcome_totals.has_outcomes = 1, outcome_totals.wins, 0) as wins,
        if(outcome_totals.has_outcomes = 1, outcome_totals.losses, 0) as losses,
        if(outcome_totals.has_outcomes = 1, outcome_totals.pushes, 0) as pushes,
        if(outcome_totals.has_outcomes = 1, outcome_totals.positions, 0) as positions,
        -- a ratio, not money: Float64; NULL when the wallet has no won or lost position
        if(wins + losses = 0, null, wins / (wins + losses)) as accuracy,
        resolved_pairs.resolved_pairs as resolved_pairs,
        resolved_pairs.total_resolved_pnl_usd as total_resolved_pnl_usd,
        ifNull(if(outcome_totals.has_outcomes = 1, outcome_totals.held_at_resolution_pnl_usd, null),
               toDecimal128(0, 12)) as held_at_resolution_pnl_usd
    from resolved_pairs
    left join outcome_totals on outcome_totals.wallet_address = resolved_pairs.wallet_address

)

select * from final
