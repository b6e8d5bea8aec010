{#- Conservation gate: resolved markets whose wallets' P&L does not sum to minus the fees they
    paid and the USDC the chain's rounding of redemptions kept (docs/domain.md, sections 5 and 7). Holds only on a closed system; a warehouse with partial
    wallet coverage sets var conservation_severity to 'warn' so the gap is shown, not silenced. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity=var('conservation_severity', 'error'),
) }}

with resolved_flows as (

    select market_id, wallet_address, realized_pnl_usd, fee_usd, redeem_shortfall
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
        -- the USDC the chain's rounding of redemptions kept (docs/domain.md section 7): with it a
        -- closed market balances to within 1e-12 per flow, however many REDEEMs it has
        sum(toDecimal256(redeem_shortfall, 12)) as redeem_shortfall_usd,
        pnl_usd + fees_usd + redeem_shortfall_usd as imbalance_usd,
        uniqExact(wallet_address) as wallets,
        count() as flows
    from resolved_flows
    group by market_id

),

final as (

    select market_id, pnl_usd, fees_usd, redeem_shortfall_usd, imbalance_usd, wallets
    from market_totals
    -- a closed system (severity error) balances to within the 12th-decimal rounding of each flow
    -- (docs/domain.md section 7); the 0.01 tolerance is for data known not to be closed (warn)
    where abs(imbalance_usd) > {{ "toDecimal256('0.01', 12)" if var('conservation_severity', 'error') == 'warn'
                                 else "toDecimal256('0.000000000001', 12) * flows" }}

)

select * from final
