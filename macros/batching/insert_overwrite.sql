{#- Root-project override of dbt-clickhouse's insert_overwrite step (the adapter's materialization
    calls it by name, and root macros win). dbt-clickhouse replaces only the partitions present in
    the new data, so a batch whose conditions lost all their rows upstream would keep stale rows.
    For models partitioned by `batch_key` this also drops the target's partitions inside the run's
    key range (every partition on a single-shot run) that the new data no longer has. REPLACE and
    DROP PARTITION are metadata operations, not mutations. Any other model gets the adapter's
    behaviour unchanged. On a cluster (one shard, replicated; a sharded model takes the adapter's
    distributed path) the scratch table is created ON CLUSTER with the model's Replicated engine,
    the partitions are read from every replica and the ALTER runs ON CLUSTER, so every replica
    ends with the same partitions; replaying a batch replaces the same partitions again. -#}
{% macro clickhouse__incremental_insert_overwrite(existing_relation, partition_by, is_distributed=False) %}
  {%- if is_distributed or partition_by != 'batch_key' -%}
    {%- do return(dbt.clickhouse__incremental_insert_overwrite(existing_relation, partition_by, is_distributed)) -%}
  {%- endif -%}
  {%- set new_data_relation = existing_relation.incorporate(path={"identifier": existing_relation.identifier
      + '__dbt_new_data_' + invocation_id.replace('-', '_')}) -%}
  {{ drop_new_data(new_data_relation) }}
  {% call statement('main') %}
    {{ get_create_table_as_sql(False, new_data_relation, sql) }}
  {% endcall %}
  {%- set bounds = batch_range() -%}
  {%- if refresh_mode() is not none -%}
    {{ keep_unscoped_rows(existing_relation, new_data_relation) }}
    {%- set scope_keys = refresh_scope_keys() -%}
  {%- endif -%}
  {%- set new_partitions = batch_partition_ids(new_data_relation) -%}
  {%- set vacated = [] -%}
  {%- for partition in batch_partition_ids(existing_relation) -%}
    {%- if refresh_mode() is not none -%}
      {%- set in_run = partition in scope_keys -%}
    {%- else -%}
      {%- set in_run = bounds is none or (bounds[0] <= partition <= bounds[1]) -%}
    {%- endif -%}
    {%- if partition not in new_partitions and in_run -%}
      {%- do vacated.append(partition) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if new_partitions or vacated %}
    {% call statement('replace_partitions') %}
      alter table {{ existing_relation }}{{ on_cluster() }}
      {%- for partition in new_partitions %}
        replace partition id '{{ partition }}' from {{ new_data_relation }}{{ ',' if not loop.last or vacated }}
      {%- endfor %}
      {%- for partition in vacated %}
        drop partition id '{{ partition }}'{{ ',' if not loop.last }}
      {%- endfor %}
    {% endcall %}
  {%- endif %}
  {{ drop_new_data(new_data_relation) }}
{% endmacro %}

{#- Drops a batch's staging table SYNC: dbt-clickhouse adds SYNC only on a cluster, and an Atomic
    database otherwise keeps a dropped table's data until a later process opens the engine. -#}
{% macro drop_new_data(relation) %}
  {% call statement('drop_new_data') %}
    drop table if exists {{ relation }}{{ on_cluster() }} sync
  {% endcall %}
  {% do adapter.cache_dropped(relation) %}
{% endmacro %}

{#- The active partition ids of a table partitioned by `batch_key`, as integers. Ids that are not
    plain integers mean the table is not partitioned the way this project expects: fail loudly
    rather than paste them into DDL. -#}
{% macro batch_partition_ids(relation) %}
  {%- if not execute -%}
    {{- return([]) -}}
  {%- endif -%}
  {%- set query -%}
    select distinct partition_id
    from {{ cluster_system_table('parts') }}
    where active
      and database = {{ clickhouse_string_literal(relation.schema) }}
      and table = {{ clickhouse_string_literal(relation.identifier) }}
    order by partition_id
  {%- endset -%}
  {%- set ids = [] -%}
  {%- for row in run_query(query).rows -%}
    {%- set id = row['partition_id'] | string -%}
    {%- if not id.isdigit() -%}
      {{- exceptions.raise_compiler_error('table ' ~ relation ~ ' has partition id ' ~ (id | tojson) ~ ', expected an integer batch_key') -}}
    {%- endif -%}
    {%- do ids.append(id | int) -%}
  {%- endfor -%}
  {{- return(ids | sort) -}}
{% endmacro %}

{#- A ClickHouse string literal for a relation name taken from the project's config. -#}
{% macro clickhouse_string_literal(value) %}
  {{- "'" ~ (value | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'" -}}
{% endmacro %}

{#- A refresh batch rebuilds its conditions' rows, which share their batch-key partitions with
    conditions outside the scope: those rows are copied into the batch's staging table as they
    are (build timestamps included), so the scope's partitions can be replaced whole, as a full
    run's are. A lightweight DELETE of the scope's rows instead costs a mutation of every part of
    those partitions (measured: 42 s against 4 s for this copy and replace on the reference pnl,
    226 conditions in 149 partitions; docs/ARCHITECTURE.md). A kill before the replace leaves the
    table as it was; a replay copies and replaces the same rows again. -#}
{% macro keep_unscoped_rows(existing_relation, new_data_relation) %}
  {% call statement('keep_unscoped_rows') %}
    insert into {{ new_data_relation }}
    select * from {{ existing_relation }}
    where batch_key in {{ refresh_scope_set('batch_key') }}
      and condition_id not in {{ refresh_scope_set() }}
    {#- a refresh batch is a set of conditions, which may lie in every batch-key partition: the
        engine refuses more than 100 partitions per INSERT block unless told otherwise -#}
    settings max_partitions_per_insert_block = {{ var('batch_partitions') | int }}
  {% endcall %}
{% endmacro %}
