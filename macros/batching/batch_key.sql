{#- The batch key of a row: a stable hash of its condition, so every flow of a pair (and of a
    condition) lands in the same partition of the P&L tables. -#}
{% macro batch_key(expr) %}
  {{- 'toUInt16(cityHash64(' ~ expr ~ ') % ' ~ (var('batch_partitions') | int) ~ ')' -}}
{% endmacro %}

{#- A predicate restricting `column` to the run's key range (vars batch_lo, batch_hi); `1 = 1`
    when both are null (a single-shot build). The bounds are validated integers, never text. In a
    refresh (vars refresh_scope / refresh_batch) it keeps the scope's conditions instead: the
    condition column is the batch-key column's sibling (`x.batch_key` -> `x.condition_id`). -#}
{% macro in_batch_range(column) %}
  {%- set bounds = batch_range() -%}
  {%- if refresh_mode() is not none -%}
    {#- a refresh: the scope's keys (so a table ordered by batch_key reads only those) and conditions -#}
    {{- column ~ ' in ' ~ refresh_scope_set('batch_key') ~ ' and '
        ~ in_refresh_scope(column | replace('batch_key', 'condition_id')) -}}
  {%- elif bounds is none -%}
    {{- '1 = 1' -}}
  {%- else -%}
    {{- column ~ ' between ' ~ bounds[0] ~ ' and ' ~ bounds[1] -}}
  {%- endif -%}
  {{- test_stall(column) -}}
  {{- ' ' ~ invocation_marker() -}}
{% endmacro %}

{#- Tests only (var test_stall_seconds, set by `enrich run` under ENRICH_TEST_STALL_AT): the batch's
    build statement runs that many seconds longer, in the engine, one second per block, so a test can
    cancel a batch while the engine runs its query (hooks/enrich/killpoints.py). The sleep is in an
    IN set, built when the statement runs: a scalar subquery would also run in dbt-clickhouse's
    column probe (`SELECT * FROM (<model>) LIMIT 0`), which does not carry dbt's query comment.
    Empty otherwise. -#}
{% macro test_stall(column) %}
  {%- set seconds = var('test_stall_seconds', 0) | int -%}
  {%- if seconds > 0 -%}
    {{- ' and ' ~ column ~ ' not in (select toUInt16(65535) + sleepEachRow(1) from numbers(' ~ seconds
        ~ ') settings max_block_size = 1)' -}}
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
