{#- The four source tables of the data contract (docs/domain.md, section 2), created when
    missing; on a cluster ON CLUSTER and Replicated, like the models (macros/ddl). `enrich load`
    and `enrich seed` call it; operators can too: dbt run-operation create_sources -#}
{% macro create_sources() %}
  {%- set database = source_database() -%}
  {% do run_query('create database if not exists ' ~ adapter.quote(database) ~ on_cluster()
                   ~ ' ' ~ adapter.clickhouse_db_engine_clause()) %}
  {% for name, ddl in source_table_ddl().items() %}
    {%- set relation = adapter.quote(database) ~ '.' ~ adapter.quote(name) -%}
    {% do run_query('create table if not exists ' ~ relation ~ on_cluster()
                     ~ ' ' ~ ddl.columns ~ ' engine = ' ~ table_engine('MergeTree()') ~ ' order by ' ~ ddl.order_by) %}
    {#- tables created before the refresh existed get the column too; their old parts compute it
        when read, new parts store it -#}
    {% do run_query('alter table ' ~ relation ~ on_cluster() ~ ' add column if not exists ' ~ row_hash_column(ddl.columns)) %}
    {#- tables created when times had milliseconds are widened to microseconds (docs/domain.md
        section 7); the values they hold are kept, and the results built from them need one
        `enrich run --fresh` (enrich.contracts says so) -#}
    {% for column, type in source_time_columns().get(name, {}).items() %}
      {%- set found = run_query("select type from system.columns where database = "
                                ~ clickhouse_string_literal(database) ~ " and table = "
                                ~ clickhouse_string_literal(name) ~ " and name = "
                                ~ clickhouse_string_literal(column)) -%}
      {% if found.rows | length > 0 and found.rows[0][0] != type %}
        {% do run_query('alter table ' ~ relation ~ on_cluster() ~ ' modify column ' ~ adapter.quote(column) ~ ' ' ~ type) %}
        {#- the stored `_row_hash` of the rows was computed from the narrower values: recompute it,
            or the first rewrite of the table (an append copies it) would mark every condition
            changed -#}
        {% do run_query('alter table ' ~ relation ~ on_cluster() ~ ' materialize column _row_hash settings mutations_sync = 2') %}
      {% endif %}
    {% endfor %}
  {% endfor %}
  {{ log('source tables ready in ' ~ database, info=True) }}
{% endmacro %}

{#- The database holding the source tables: the target's database unless a var says otherwise. -#}
{% macro source_database() %}
  {{- return(var('source_database', target.schema)) -}}
{% endmacro %}

{#- The time columns that keep microseconds, with their type, per source table. -#}
{% macro source_time_columns() %}
  {{ return({
    'trades_raw': {'block_time': "DateTime64(6, 'UTC')"},
    'ctf_events': {'block_time': "DateTime64(6, 'UTC')"},
    'resolutions': {'resolved_at': "DateTime64(6, 'UTC')"},
  }) }}
{% endmacro %}

{% macro source_table_ddl() %}
  {{ return({
    'trades_raw': {'columns': "(
        trade_id String,
        tx_hash String,
        block_time DateTime64(6, 'UTC'),
        wallet_address String,
        market_id String,
        condition_id String,
        outcome_index UInt8,
        side Enum8('BUY' = 1, 'SELL' = 2),
        shares Decimal(38, 6),
        usd_value Decimal(38, 6),
        fee_usd Decimal(38, 6)
      )", 'order_by': '(condition_id, wallet_address, trade_id)'},
    'ctf_events': {'columns': "(
        event_id String,
        block_time DateTime64(6, 'UTC'),
        wallet_address String,
        market_id String,
        condition_id String,
        outcome_index UInt8,
        event_type Enum8('SPLIT' = 1, 'MERGE' = 2, 'REDEEM' = 3),
        shares Decimal(38, 6),
        usd_value Decimal(38, 6)
      )", 'order_by': '(condition_id, wallet_address, event_id)'},
    'markets_dim': {'columns': "(
        market_id String,
        condition_id String,
        question String,
        category String,
        outcome_count UInt8,
        outcome_labels Array(String),
        end_date DateTime64(3, 'UTC')
      )", 'order_by': 'market_id'},
    'resolutions': {'columns': "(
        condition_id String,
        payout_numerators Array(UInt32),
        resolved_at DateTime64(6, 'UTC')
      )", 'order_by': 'condition_id'},
  }) }}
{% endmacro %}

{#- `_row_hash`: a hash of a source row's every column, computed by the engine when the row is
    written (and again by a mutation that changes it), never by `select *` or an insert that names
    the contract's columns. The refresh finds the conditions whose rows changed by comparing
    per-condition sums of it with the sums its last build recorded (int_source_digests_recorded),
    reading two columns instead of hashing every row. -#}
{% macro row_hash_column(columns_ddl) %}
  {%- set names = [] -%}
  {%- for line in columns_ddl.strip().strip('()').split(',\n') -%}
    {%- do names.append(line.strip().split(' ')[0]) -%}
  {%- endfor -%}
  {{- return('_row_hash UInt64 materialized cityHash64(' ~ names | join(', ') ~ ')') -}}
{% endmacro %}
