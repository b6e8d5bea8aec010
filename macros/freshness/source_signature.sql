{#- int_flows_unioned is a table built once per run, so a mart built on its own
    (`dbt build --select pnl`) could silently price an older copy of the sources. The table
    records a signature of the sources it was built from in its comment (a metadata change, not
    a mutation), and single-shot builds of the marts compare it with the sources' signature now.
    On a cluster the comment is set ON CLUSTER and counts only when every replica holds the same. -#}

{#- A SQL expression: row count and an order-independent hash of every source table. -#}
{% macro source_signature_sql() %}
  {%- set parts = [] -%}
  {%- for name in ['trades_raw', 'ctf_events', 'markets_dim', 'resolutions'] -%}
    {%- do parts.append('(select toString((count(), sum(cityHash64(*)))) from ' ~ source('polymarket', name) ~ ')') -%}
  {%- endfor -%}
  {{- 'concat(' ~ parts | join(", ' ', ") ~ ')' -}}
{% endmacro %}

{#- post_hook of int_flows_unioned. -#}
{% macro record_source_signature() %}
  {%- if execute -%}
    {%- set signature = run_query('select ' ~ source_signature_sql() ~ ' as signature').columns[0].values()[0] -%}
    alter table {{ this }}{{ on_cluster() }} modify comment {{ clickhouse_string_literal('sources ' ~ signature) }}
  {%- endif -%}
{% endmacro %}

{#- pre_hook of the marts reading int_flows_unioned. `enrich run` rebuilds that table before its
    first batch and says so with the var flows_built_this_run, so its batches skip the check
    rather than each paying a scan of every source. -#}
{% macro assert_flows_match_sources() %}
  {%- if execute and not var('flows_built_this_run', false) -%}
    {%- set flows = ref('int_flows_unioned') -%}
    {%- set check -%}
      select
        (select any(comment) from {{ cluster_system_table('tables') }}
         where database = {{ clickhouse_string_literal(flows.schema) }}
           and name = {{ clickhouse_string_literal(flows.identifier) }}
         having uniqExact(comment) = 1) as recorded,
        concat('sources ', {{ source_signature_sql() }}) as current
    {%- endset -%}
    {%- set row = run_query(check).rows[0] -%}
    {%- if row['recorded'] != row['current'] -%}
      {{- exceptions.raise_compiler_error(
            flows.identifier ~ ' was built from other source data than the tables hold now; '
            ~ 'rebuild it first: dbt build --select +' ~ this.identifier ~ ' (or enrich run)') -}}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}
