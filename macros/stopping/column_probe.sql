{#- dbt's invocation id as a SQL comment, for statements dbt-clickhouse sends without dbt's query
    comment: the column probes (`SELECT * FROM (<model>) LIMIT 0`) of its contract check and of an
    incremental model's schema-change check. LIMIT 0 does not always spare the work (the P&L
    model's probe built its IN sets), so a probe can run as long as the build. A second Ctrl-C of
    `enrich run` on a server kills the queries whose text holds the invocation id in flight
    (hooks/enrich/stopping.py); every batched model holds the marker through in_batch_range, the
    contract check's probe of any model through the override below. -#}
{% macro invocation_marker() -%}
  {{- '/* ' ~ tojson({'invocation_id': invocation_id}) ~ ' */' -}}
{%- endmacro %}

{#- dbt-clickhouse's contract check unchanged, its probe marked. -#}
{% macro clickhouse__get_assert_columns_equivalent(sql) -%}
  {{ dbt.clickhouse__get_assert_columns_equivalent(invocation_marker() ~ '\n' ~ sql) }}
{%- endmacro %}
