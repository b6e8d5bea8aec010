{#- Guards of the batch-key-partitioned marts (pnl, pnl_positions, wallet_resolution_outcomes)
    against the dbt invocations that would rebuild them partially and silently lose rows
    (issue 11). Each model calls guard_batched_build() in its body and records the partition count
    it was built with through the post_hook record_batch_partitions(). -#}

{#- Refuses, while the model compiles (before anything is written):
    - `--full-refresh` with vars batch_lo / batch_hi: the table would be recreated holding only the
      range's rows;
    - `--empty` on an existing table: the insert_overwrite override would empty every partition;
    - a table built with another var batch_partitions (recorded in its comment): the range's rows
      would be written under new keys while their old copies stay under the old ones.
    `--full-refresh` alone rebuilds every partition from the flows and is allowed, as is `dbt retry`
    (it repeats the failed invocation with the same vars, hence the same range). -#}
{% macro guard_batched_build() %}
  {#- a unit test compiles the model against fixtures, with no table to guard -#}
  {%- if not execute or model.resource_type != 'model' -%}
    {{- return('') -}}
  {%- endif -%}
  {%- set bounds = batch_range() -%}
  {%- set full_refresh = should_full_refresh() -%}
  {%- if full_refresh and bounds is not none -%}
    {{- exceptions.raise_compiler_error(
          '--full-refresh with vars batch_lo/batch_hi would recreate ' ~ this.identifier
          ~ ' holding only keys ' ~ bounds[0] ~ '-' ~ bounds[1] ~ ' and lose every other row; nothing was changed. '
          ~ 'Rebuild the whole table with `dbt run --select ' ~ this.identifier ~ ' --full-refresh` (no vars), '
          ~ 'or rebuild the range in place without --full-refresh, or run `enrich run --fresh`.') -}}
  {%- endif -%}
  {%- set existing = load_relation(this) -%}
  {%- if existing is none or full_refresh -%}
    {{- return('') -}}
  {%- endif -%}
  {%- if flags.EMPTY -%}
    {{- exceptions.raise_compiler_error(
          '--empty would empty every partition of the existing ' ~ this.identifier ~ '; nothing was changed. '
          ~ 'Use --empty only on a warehouse where ' ~ this.identifier ~ ' does not exist yet, '
          ~ 'or run without --empty.') -}}
  {%- endif -%}
  {%- set recorded = recorded_batch_partitions(existing) -%}
  {%- set current = var('batch_partitions') | int -%}
  {%- if recorded is not none and recorded != current -%}
    {{- exceptions.raise_compiler_error(
          this.identifier ~ ' was built with batch_partitions=' ~ recorded ~ ', this invocation has '
          ~ current ~ '; its rows would land under other keys and old copies would stay. Nothing was changed. '
          ~ 'Rebuild it and the flows it reads whole with `dbt run --select +' ~ this.identifier ~ ' --full-refresh --vars '
          ~ "'{batch_partitions: " ~ current ~ "}'` (no batch range), or `enrich run --fresh`.") -}}
  {%- endif -%}
  {{- return('') -}}
{% endmacro %}

{#- The batch_partitions a table records in its comment ('batch_partitions N'), none when it
    records none (a table built before the guard). -#}
{% macro recorded_batch_partitions(relation) %}
  {%- set query -%}
    select comment from system.tables
    where database = {{ clickhouse_string_literal(relation.schema) }}
      and name = {{ clickhouse_string_literal(relation.identifier) }}
  {%- endset -%}
  {%- set rows = run_query(query).rows -%}
  {%- set comment = (rows[0]['comment'] | string) if rows else '' -%}
  {%- set parts = comment.split(' ') -%}
  {%- if parts | length == 2 and parts[0] == 'batch_partitions' and parts[1].isdigit() -%}
    {{- return(parts[1] | int) -}}
  {%- endif -%}
  {{- return(none) -}}
{% endmacro %}

{#- post_hook: records the partition count in the table's comment (metadata, not a mutation). -#}
{% macro record_batch_partitions() %}
  alter table {{ this }}{{ on_cluster() }} modify comment {{ clickhouse_string_literal('batch_partitions ' ~ (var('batch_partitions') | int)) }}
{% endmacro %}
