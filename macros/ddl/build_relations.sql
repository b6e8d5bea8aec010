{#- Root overrides of dbt's make_backup_relation and make_intermediate_relation (dispatched, so the
    root project's clickhouse__ macros win) for every model of this project. dbt names the table a
    materialization builds into (`<model>__dbt_backup`, `<model>__dbt_tmp`) the same in every
    invocation and drops a table of that name it finds first: two builds of one model at a time (a
    runner paused past its lease and the runner that took over, docs/RELIABILITY.md) then fill,
    drop or exchange each other's table, and the model can end with every row twice. A name unique
    to the invocation gives each build a table of its own, filled once and exchanged whole, as the
    batches' `__dbt_new_data_<invocation>` tables are; `enrich run` drops what a killed build left
    (hooks/enrich/executor.py, drop_leftovers: every `<model>__dbt_*`). -#}
{% macro clickhouse__make_backup_relation(base_relation, backup_relation_type, suffix) %}
  {{- return(dbt.default__make_backup_relation(base_relation, backup_relation_type,
      suffix ~ '_' ~ invocation_id.replace('-', '_'))) -}}
{% endmacro %}

{% macro clickhouse__make_intermediate_relation(base_relation, suffix) %}
  {{- return(dbt.default__make_intermediate_relation(base_relation, suffix ~ '_' ~ invocation_id.replace('-', '_'))) -}}
{% endmacro %}
