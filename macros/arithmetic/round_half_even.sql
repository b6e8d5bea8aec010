{#- Half-even rounding done exactly on integers (docs/domain.md section 7: every stored rounded
    value is half-even). ClickHouse's round() on a Decimal rounds half away from zero, and a
    Decimal division truncates, so neither can be used for a stored value. -#}

{#- numerator / denominator rounded half-even to an integer, as Int256. denominator must be > 0.
    intDiv truncates toward zero, so the remainder has the numerator's sign: a remainder above half
    the denominator moves the quotient one step away from zero, exactly half moves it only when the
    quotient is odd. -#}
{% macro round_half_even_int(numerator, denominator) %}
  {%- set n = 'toInt256(' ~ numerator ~ ')' -%}
  {%- set d = 'toInt256(' ~ denominator ~ ')' -%}
  {%- set q = 'intDiv(' ~ n ~ ', ' ~ d ~ ')' -%}
  {%- set twice_r = 'abs(' ~ n ~ ' - ' ~ q ~ ' * ' ~ d ~ ') * 2' -%}
  {{- '(' ~ q ~ ' + if(' ~ twice_r ~ ' > ' ~ d ~ ' or (' ~ twice_r ~ ' = ' ~ d ~ ' and ' ~ q ~ ' % 2 != 0), '
      ~ 'if(' ~ n ~ ' < 0, -1, 1), 0))' -}}
{% endmacro %}

{#- The rational numerator / denominator (integer expressions, denominator > 0) rounded half-even
    to `scale` decimals, as Decimal(38, scale). The integer of units is turned into a Decimal256 and
    divided by 10^scale, which is exact, then narrowed with an overflow check. -#}
{% macro round_half_even(numerator, denominator, scale) %}
  {%- set units = round_half_even_int('toInt256(' ~ numerator ~ ') * ' ~ (10 ** scale), denominator) -%}
  {{- 'toDecimal128(toDecimal256(' ~ units ~ ', ' ~ scale ~ ') / ' ~ (10 ** scale) ~ ', ' ~ scale ~ ')' -}}
{% endmacro %}

{#- A Decimal(38, 6) expression as an integer of micro-units (exact: it has 6 decimals). -#}
{% macro to_micro(expr) %}
  {{- 'toInt256(toDecimal256(' ~ expr ~ ', 6) * 1000000)' -}}
{% endmacro %}
