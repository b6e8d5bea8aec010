{#- A sum that cannot wrap around (docs/domain.md section 7). ClickHouse's sum() over Decimal128
    wraps silently on overflow; summing in Decimal256 (76 digits) cannot, and narrowing the total
    back to Decimal128 with toDecimal128 raises "Decimal convert overflow" (Code 407) instead of
    returning a wrong number. -#}
{% macro checked_sum(expr, scale) %}
  {{- 'toDecimal128(sum(toDecimal256(' ~ expr ~ ', ' ~ scale ~ ')), ' ~ scale ~ ')' -}}
{% endmacro %}
