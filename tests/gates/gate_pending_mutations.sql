{#- Gate 4: mutations (ALTER ... UPDATE/DELETE) still unfinished on the project's databases, on
    any replica of a cluster; a batch rewriting partitions under them would race them. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity='error',
) }}

with pending as (

    select
        database,
        table,
        mutation_id,
        command,
        create_time,
        latest_fail_reason
    from {{ cluster_system_table('mutations') }}
    where is_done = 0
      and database in (
          {{ clickhouse_string_literal(target.schema) }},
          {{ clickhouse_string_literal(source_database()) }}
      )

),

final as (

    select * from pending

)

select * from final
