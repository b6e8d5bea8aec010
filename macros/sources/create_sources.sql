{#- The four source tables of the data contract (docs/domain.md, section 2), created when
    missing; on a cluster ON CLUSTER and Replicated, like the models (macros/ddl). `enrich load`
    and `enrich seed` call it; operators can too: dbt run-operation create_sources -#}
{% macro create_sources() %}
  {%- set database = source_database() -%}
  {% do run_query('create database if not exists ' ~ adapter.quote(database) ~ on_cluster()
                   ~ ' ' ~ adapter.clickhouse_db_engine_clause()) %}
  {% for name, ddl in source_table_ddl().items() %}
    {% do run_query('create table if not exists ' ~ adapter.quote(database) ~ '.' ~ adapter.quote(name) ~ on_cluster()
                     ~ ' ' ~ ddl.columns ~ ' engine = ' ~ table_engine('MergeTree()') ~ ' order by ' ~ ddl.order_by) %}
  {% endfor %}
  {{ log('source tables ready in ' ~ database, info=True) }}
{% endmacro %}

{#- The database holding the source tables: the target's database unless a var says otherwise. -#}
{% macro source_database() %}
  {{- return(var('source_database', target.schema)) -}}
{% endmacro %}

{% macro source_table_ddl() %}
  {{ return({
    'trades_raw': {'columns': "(
        trade_id String,
        tx_hash String,
        block_time DateTime64(3, 'UTC'),
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
        block_time DateTime64(3, 'UTC'),
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
        resolved_at DateTime64(3, 'UTC')
      )", 'order_by': 'condition_id'},
  }) }}
{% endmacro %}
