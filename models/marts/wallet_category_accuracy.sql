{#- Step E per (wallet, category): won, lost and pushed positions at resolution, the accuracy
    wins / (wins + losses) and the P&L of those positions (docs/domain.md, section 8). A market
    missing from markets_dim counts under category ''. Rebuilt whole after the last batch, with
    wallet_accuracy. -#}
{{ config(materialized='table', order_by='(wallet_address, category)', tags=['step_e']) }}

with outcomes as (

    select * from {{ ref('wallet_resolution_outcomes') }}

),

final as (

    select
        wallet_address,
        category,
        countIf(result = 'won') as wins,
        countIf(result = 'lost') as losses,
        countIf(result = 'push') as pushes,
        count() as positions,
        -- a ratio, not money: Float64; NULL when the wallet has no won or lost position here
        if(wins + losses = 0, null, wins / (wins + losses)) as accuracy,
        -- summed in Decimal256 and narrowed with an overflow check: a Decimal128 sum wraps silently
        toDecimal128(sum(toDecimal256(pnl_usd, 12)), 12) as held_at_resolution_pnl_usd
    from outcomes
    group by wallet_address, category

)

select * from final
