{#- A flow's realized P&L, delta * num / S + cash (docs/domain.md section 3), from the columns
    delta_shares, cash_usd, payout_numerator and payout_denominator in scope. num / S need not
    terminate (1/3): 18 decimals in Decimal256, rounded to 12 once at the end; greatest() only keeps
    the unused branch of if() from dividing by zero. -#}
{% macro flow_pnl_sql() %}
toDecimal256(cash_usd, 18) + toDecimal256(delta_shares, 18) * payout_numerator / greatest(payout_denominator, 1)
{%- endmacro %}
