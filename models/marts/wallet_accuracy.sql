{#- Step E, per wallet: won, lost and pushed positions at resolution and the accuracy
    wins / (wins + losses) (docs/domain.md, section 4). Rebuilt whole after the last batch. -#}
{{ config(materialized='table', order_by='wallet_address') }}

with outcomes as (

    select * from {{ ref('wallet_resolution_outcomes') }}

),

final as (

    select
        wallet_address,
        countIf(result = 'won') as wins,
        countIf(result = 'lost') as losses,
        countIf(result = 'push') as pushes,
        count() as positions,
        -- a ratio, not money: Float64; NULL when the wallet has no won or lost position
        if(wins + losses = 0, null, wins / (wins + losses)) as accuracy,
        sum(pnl_usd) as total_pnl_usd
    from outcomes
    group by wallet_address

)

select * from final
