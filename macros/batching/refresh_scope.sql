{#- The refresh scope: the conditions an `enrich run --changed` recomputes (docs/ARCHITECTURE.md).
    `enrich` writes them to the table `_enrich_refresh_scope` (condition_id, batch_key, batch) in the
    target's database before it builds anything, then runs dbt with one of two vars:
    - refresh_scope: true   the whole scope (the upstream tables and the gates);
    - refresh_batch: N      the scope's batch N (the batched marts, one batch at a time).
    Without either var every model and test reads everything, as a full run does. -#}

{#- The scope table, quoted; `enrich` creates it (hooks/enrich/scope.py). -#}
{% macro refresh_scope_table() %}
  {{- return(adapter.quote(target.schema) ~ '.' ~ adapter.quote('_enrich_refresh_scope')) -}}
{% endmacro %}

{#- 'batch' with var refresh_batch, 'all' with var refresh_scope, none on a full build. -#}
{% macro refresh_mode() %}
  {%- if var('refresh_batch', none) is not none -%}
    {%- if batch_range() is not none -%}
      {{- exceptions.raise_compiler_error('vars refresh_batch and batch_lo/batch_hi exclude each other') -}}
    {%- endif -%}
    {{- return('batch') -}}
  {%- endif -%}
  {{- return('all' if var('refresh_scope', false) else none) -}}
{% endmacro %}

{#- The subquery of the scope's condition ids (or batch keys, with column='batch_key'): the whole
    scope, or the batch of var refresh_batch (a validated integer, never pasted text). -#}
{% macro refresh_scope_set(column='condition_id') %}
  {%- set where = '' -%}
  {%- if refresh_mode() == 'batch' -%}
    {%- set batch = var('refresh_batch') -%}
    {%- if not (batch is integer or (batch is string and batch.isdigit())) -%}
      {{- exceptions.raise_compiler_error('var refresh_batch must be a non-negative integer, got ' ~ (batch | string | tojson)) -}}
    {%- endif -%}
    {%- set where = ' where batch = ' ~ (batch | int) -%}
  {%- endif -%}
  {{- return('(select ' ~ column ~ ' from ' ~ refresh_scope_table() ~ where ~ ')') -}}
{% endmacro %}

{#- The batch keys of the refresh scope (the batch of var refresh_batch), as integers. -#}
{% macro refresh_scope_keys() %}
  {%- if not execute -%}
    {{- return([]) -}}
  {%- endif -%}
  {%- set keys = [] -%}
  {%- for row in run_query('select distinct batch_key from ' ~ refresh_scope_set('batch_key') ~ ' as scope order by batch_key').rows -%}
    {%- do keys.append(row[0] | int) -%}
  {%- endfor -%}
  {{- return(keys) -}}
{% endmacro %}

{#- A predicate keeping the rows of the refresh scope's conditions: `condition_column in (...)`,
    or '1 = 1' on a full build. -#}
{% macro in_refresh_scope(condition_column='condition_id') %}
  {%- if refresh_mode() is none -%}
    {{- return('1 = 1') -}}
  {%- endif -%}
  {{- return(condition_column ~ ' in ' ~ refresh_scope_set()) -}}
{% endmacro %}

{#- The relation of a scopable view (materialized scopable_view) as this invocation reads it: in a
    refresh its scoped twin `<name>__scoped`, holding only the scope's rows; otherwise the view. -#}
{% macro scoped_ref(name) %}
  {%- set relation = ref(name) -%}
  {%- if refresh_mode() is none -%}
    {{- return(relation) -}}
  {%- endif -%}
  {{- return(relation.incorporate(path={'identifier': relation.identifier ~ scoped_suffix()})) -}}
{% endmacro %}

{% macro scoped_suffix() %}
  {{- return('__scoped') -}}
{% endmacro %}

{#- A view whose SQL reads in_refresh_scope(): on a full build dbt's view; in a refresh its twin
    `<name>__scoped` is built instead, so the view operators and full runs read is never narrowed to
    a scope, and the manifest (parsed once, without the refresh vars) stays valid. The twin is a
    table holding the scope's rows: the flows and the quarantine both read the validated rows, and
    as a view each of them validated the scope again (the duplicate-id check reads the whole staged
    table); measured at 10x, the quarantine's refresh cost 15-49 s of the upstream's 54-106 s
    (docs/ARCHITECTURE.md). A replay builds the same table again. -#}
{% materialization scopable_view, adapter='clickhouse' %}
  {%- if refresh_mode() is none -%}
    {{ return(dbt.materialization_view_clickhouse()) }}
  {%- endif -%}
  {%- set scoped = this.incorporate(path={'identifier': this.identifier ~ scoped_suffix()}, type='table') -%}
  {#- a twin from an earlier release is a view: DROP TABLE drops either -#}
  {{ drop_new_data(scoped) }}
  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, scoped, sql) }}
  {%- endcall %}
  {{ return({'relations': [scoped]}) }}
{% endmaterialization %}
