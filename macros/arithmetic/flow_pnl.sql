{#- A flow's realized P&L, delta * num / S + cash (docs/domain.md section 3), from the columns
    delta_shares, cash_usd, payout_numerator and payout_denominator in scope, stored with 12
    decimals rounded half-even (section 7). num / S need not terminate (1/3), so the value is the
    rational (delta_micro * num + cash_micro * S) / (S * 10^6) rounded once, on integers: no
    intermediate Decimal is truncated first. greatest() only keeps the unused branch of an
    unresolved row from dividing by zero. -#}
{% macro flow_pnl_sql() %}
  {{- round_half_even(
        to_micro('delta_shares') ~ ' * payout_numerator + ' ~ to_micro('cash_usd') ~ ' * greatest(payout_denominator, 1)',
        'greatest(payout_denominator, 1) * 1000000', 12) -}}
{%- endmacro %}
