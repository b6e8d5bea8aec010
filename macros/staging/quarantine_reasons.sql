{#- The row-local checks of a staging model as an Array(String) of the reasons that apply (empty
    when the row alone is valid). `checks` is a list of [condition, reason] pairs; the reasons are
    the project's own literals, quoted, never data. -#}
{% macro quarantine_reasons(checks) %}
  {%- set items = [] -%}
  {%- for condition, reason in checks -%}
    {%- do items.append('if(' ~ condition ~ ', ' ~ clickhouse_string_literal(reason) ~ ', \'\')') -%}
  {%- endfor -%}
  {{- 'arrayFilter(reason -> reason != \'\', [' ~ items | join(', ') ~ '])' -}}
{% endmacro %}

{#- docs/domain.md section 7: shares and USD amounts above 10^15 are out of range. At most 10^15
    per flow keeps every sum of the project far from the 10^26 limit of Decimal(38, 12). -#}
{% macro above_magnitude_bound(column) %}
  {{- column ~ " > toDecimal128('1000000000000000', 6)" -}}
{% endmacro %}
