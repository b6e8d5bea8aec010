{#- The batch key of a row: a stable hash of its condition, so every flow of a pair (and of a
    condition) lands in the same partition of the P&L tables. -#}
{% macro batch_key(expr) %}
  {{- 'toUInt16(cityHash64(' ~ expr ~ ') % ' ~ (var('batch_partitions') | int) ~ ')' -}}
{% endmacro %}

{#- A predicate restricting `column` to the run's key range (vars batch_lo, batch_hi); `1 = 1`
    when both are null (a single-shot build). The bounds are validated integers, never text. -#}
{% macro in_batch_range(column) %}
  {%- set bounds = batch_range() -%}
  {%- if bounds is none -%}
    {{- '1 = 1' -}}
  {%- else -%}
    {{- column ~ ' between ' ~ bounds[0] ~ ' and ' ~ bounds[1] -}}
  {%- endif -%}
{% endmacro %}

{#- The run's key range as [lo, hi] integers, or none for a single-shot build. -#}
{% macro batch_range() %}
  {%- set lo = var('batch_lo', none) -%}
  {%- set hi = var('batch_hi', none) -%}
  {%- if lo is none and hi is none -%}
    {{- return(none) -}}
  {%- endif -%}
  {%- if lo is none or hi is none -%}
    {{- exceptions.raise_compiler_error('vars batch_lo and batch_hi must be set together (got batch_lo=' ~ lo ~ ', batch_hi=' ~ hi ~ ')') -}}
  {%- endif -%}
  {%- set partitions = var('batch_partitions') | int -%}
  {%- set bounds = [] -%}
  {%- for name, value in [('batch_lo', lo), ('batch_hi', hi)] -%}
    {%- if not (value is integer or (value is string and value.isdigit())) -%}
      {{- exceptions.raise_compiler_error('var ' ~ name ~ ' must be a non-negative integer, got ' ~ (value | string | tojson)) -}}
    {%- endif -%}
    {%- do bounds.append(value | int) -%}
  {%- endfor -%}
  {%- if bounds[0] < 0 or bounds[0] > bounds[1] or bounds[1] >= partitions -%}
    {{- exceptions.raise_compiler_error('batch range must satisfy 0 <= batch_lo <= batch_hi < ' ~ partitions ~ ', got ' ~ bounds[0] ~ '..' ~ bounds[1]) -}}
  {%- endif -%}
  {{- return(bounds) -}}
{% endmacro %}
