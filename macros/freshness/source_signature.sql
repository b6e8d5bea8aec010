{#- int_flows_unioned is a table built from every source row, so a mart built on its own
    (`dbt build --select pnl`) could silently price an older copy of the sources, and rebuilding it
    when nothing changed is the largest fixed cost of a run. The table records a signature of the
    sources it was built from in its comment (a metadata change, not a mutation): the marts compare
    it with the sources' signature now, and the table's materialization keeps the table when they
    agree. On a cluster the comment is set ON CLUSTER and counts only when every replica holds the same. -#}

{#- The signature of the source tables now, a string. A MergeTree table is described by its
    metadata alone, never by reading its rows: its UUID (a swapped or re-created table gets a new
    one) and, per partition, its rows, its highest block number (every insert takes a new one) and
    its latest mutation (an update or delete, lightweight ones included, rewrites parts under a
    version above their blocks). A background merge changes none of these. Any other engine (a
    view, a Distributed table) has no parts to go by: its rows are hashed. -#}
{% macro source_signature() %}
  {%- set database = source_database() -%}
  {#- the source tables of the contract, as create_sources declares them -#}
  {%- set names = source_table_ddl().keys() | list -%}
  {%- set engines_sql -%}
    select name, engine from {{ cluster_system_table('tables') }}
    where database = {{ clickhouse_string_literal(database) }}
      and name in ({%- for n in names -%}{{ clickhouse_string_literal(n) }}{{ ', ' if not loop.last }}{%- endfor -%})
  {%- endset -%}
  {%- set engines = {} -%}
  {%- for row in run_query(engines_sql).rows -%}
    {%- do engines.update({row['name']: row['engine']}) -%}
  {%- endfor -%}
  {%- set parts = [] -%}
  {%- for name in names -%}
    {%- if engines.get(name, '').endswith('MergeTree') -%}
      {%- do parts.append("(select toString((arraySort(groupUniqArray(uuid)))) from " ~ cluster_system_table('tables')
          ~ " where database = " ~ clickhouse_string_literal(database) ~ " and name = " ~ clickhouse_string_literal(name) ~ ")"
          ~ ", (select toString(arraySort(groupArray((partition_id, rows, last_block, last_mutation)))) from"
          ~ " (select partition_id, sum(rows) as rows, max(max_block_number) as last_block,"
          ~ " max(if(data_version > max_block_number, data_version, 0)) as last_mutation from " ~ cluster_system_table('parts')
          ~ " where active and database = " ~ clickhouse_string_literal(database) ~ " and table = " ~ clickhouse_string_literal(name)
          ~ " group by partition_id))") -%}
    {%- else -%}
      {%- do parts.append("(select toString((count(), sum(cityHash64(*)))) from " ~ source('polymarket', name) ~ ")") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set signature_sql = 'select concat(' ~ parts | join(", ' ', ") ~ ') as signature' -%}
  {{- return('sources ' ~ run_query(signature_sql).columns[0].values()[0]) -}}
{% endmacro %}

{#- The signature int_flows_unioned recorded when it was built ('' when the replicas disagree). -#}
{% macro recorded_source_signature(relation) %}
  {%- set recorded_sql -%}
    select any(comment) as recorded from {{ cluster_system_table('tables') }}
    where database = {{ clickhouse_string_literal(relation.schema) }}
      and name = {{ clickhouse_string_literal(relation.identifier) }}
    having uniqExact(comment) = 1
  {%- endset -%}
  {%- set rows = run_query(recorded_sql).rows -%}
  {{- return(rows[0]['recorded'] if rows | length > 0 else '') -}}
{% endmacro %}

{#- What a kept table must still match: the sources' signature and the model's own compiled SQL
    (a project upgrade that changes a validation rule rebuilds it). -#}
{% macro build_signature(compiled_sql) %}
  {#- a refresh compiles the same model against the scoped views: the same SQL for the signature -#}
  {%- if refresh_mode() is not none -%}
    {%- set compiled_sql = compiled_sql | replace(scoped_suffix(), '') | replace(in_refresh_scope(), '1 = 1') -%}
  {%- endif -%}
  {{- return(source_signature() ~ ' model ' ~ local_md5(compiled_sql)) -}}
{% endmacro %}

{#- post_hook of the models materialized source_current_table. -#}
{% macro record_source_signature() %}
  {%- if execute -%}
    alter table {{ this }}{{ on_cluster() }} modify comment {{ clickhouse_string_literal(build_signature(model.compiled_code)) }}
  {%- endif -%}
{% endmacro %}

{#- pre_hook of the marts reading int_flows_unioned. `enrich run` builds that table before its
    first batch and says so with the var flows_built_this_run, so its batches skip the check. -#}
{% macro assert_flows_match_sources() %}
  {%- if execute and not var('flows_built_this_run', false) -%}
    {%- set flows = ref('int_flows_unioned') -%}
    {%- if recorded_source_signature(flows).split(' model ')[0] != source_signature() -%}
      {{- exceptions.raise_compiler_error(
            flows.identifier ~ ' was built from other source data than the tables hold now; '
            ~ 'rebuild it first: dbt build --select +' ~ this.identifier ~ ' (or enrich run)') -}}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}

{#- The materialization of int_flows_unioned and the quarantine: dbt-clickhouse's `table`, except
    that a table whose recorded signature equals the sources' and its SQL's now is kept as it is
    (--full-refresh rebuilds it anyway). Its model needs post_hook record_source_signature. -#}
{% materialization source_current_table, adapter='clickhouse' %}
  {%- set existing = load_cached_relation(this) -%}
  {%- if existing is not none and not should_full_refresh()
        and recorded_source_signature(existing) == build_signature(sql) -%}
    {{ log(this.identifier ~ ' is current with the sources: kept', info=True) }}
    {%- call noop_statement('main', 'KEPT') -%}{%- endcall -%}
    {{ return({'relations': [this]}) }}
  {%- endif -%}
  {%- if existing is not none and refresh_mode() == 'all' and not should_full_refresh() -%}
    {{ return(refresh_source_current_table(existing)) }}
  {%- endif -%}
  {{ return(dbt.materialization_table_clickhouse()) }}
{% endmaterialization %}

{#- A refresh of a source_current_table: its SQL reads the scoped views, so it yields the scope's
    rows only; they replace the rows of the scope's conditions (and those the model's config
    `refresh_also_replaces`, a static predicate, selects) with a lightweight delete and an insert.
    A kill in between is repaired by the next attempt (same delete, same insert). -#}
{% macro refresh_source_current_table(existing) %}
  {%- set staging = existing.incorporate(path={'identifier': existing.identifier ~ '__dbt_scope_'
      ~ invocation_id.replace('-', '_')}) -%}
  {{ run_hooks(pre_hooks) }}
  {{ drop_new_data(staging) }}
  {% call statement('main') %}
    {{ get_create_table_as_sql(False, staging, sql) }}
  {% endcall %}
  {% call statement('delete_scope_rows') %}
    delete from {{ existing }}{{ on_cluster() }}
    where {{ in_refresh_scope() }}{{ ' or ' ~ config.get('refresh_also_replaces') if config.get('refresh_also_replaces') }}
  {% endcall %}
  {% call statement('insert_scope_rows') %}
    insert into {{ existing }} select * from {{ staging }}
  {% endcall %}
  {{ drop_new_data(staging) }}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [existing]}) }}
{% endmacro %}
