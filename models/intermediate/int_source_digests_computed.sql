{#- One row per (source table, condition) with the number of its source rows and the sum of their
    `_row_hash` (macros/sources/create_sources.sql), as the sources hold them now. Comparing it with
    int_source_digests_recorded, what the results were last built from, tells `enrich run --changed`
    which conditions changed, whatever changed them: appended rows, an update or delete in place, a
    reload. Reads the condition and the stored hash only. -#}
with trades as (
    select 'trades_raw' as source_table, lower(condition_id) as condition_id, _row_hash
    from {{ source('polymarket', 'trades_raw') }}
),

ctf_events as (
    select 'ctf_events' as source_table, lower(condition_id) as condition_id, _row_hash
    from {{ source('polymarket', 'ctf_events') }}
),

markets as (
    select 'markets_dim' as source_table, lower(condition_id) as condition_id, _row_hash
    from {{ source('polymarket', 'markets_dim') }}
),

resolutions as (
    select 'resolutions' as source_table, lower(condition_id) as condition_id, _row_hash
    from {{ source('polymarket', 'resolutions') }}
),

source_rows as (
    select * from trades
    union all
    select * from ctf_events
    union all
    select * from markets
    union all
    select * from resolutions
),

final as (
    select
        toLowCardinality(source_table) as source_table,
        condition_id,
        {{ batch_key('condition_id') }} as batch_key,
        count() as source_rows,
        sum(_row_hash) as rows_hash
    from source_rows
    group by source_table, condition_id
)

select * from final
