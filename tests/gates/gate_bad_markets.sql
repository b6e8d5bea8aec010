{#- Conservation gate: resolved markets whose wallets' P&L does not sum to minus the fees they
    paid (docs/domain.md, section 5). Holds only on a closed system; a warehouse with partial
    wallet coverage sets var conservation_severity to 'warn' so the gap is shown, not silenced. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity=var('conservation_severity', 'error'),
) }}

with resolved_flows as (

    select market_id, wallet_address, realized_pnl_usd, fee_usd
    from {{ ref('pnl') }}
    where is_resolved = 1
      and {{ in_batch_range('batch_key') }}

),

market_totals as (

    select
        market_id,
        -- Decimal256: a sum that cannot wrap, so wrapped totals cannot cancel out (docs/domain.md section 7)
        sum(toDecimal256(realized_pnl_usd, 12)) as pnl_usd,
        sum(toDecimal256(fee_usd, 6)) as fees_usd,
        pnl_usd + fees_usd as imbalance_usd,
        uniqExact(wallet_address) as wallets
    from resolved_flows
    group by market_id

),

final as (

    select market_id, pnl_usd, fees_usd, imbalance_usd, wallets
    from market_totals
    where abs(imbalance_usd) > toDecimal256('0.01', 12)

)

select * from final
