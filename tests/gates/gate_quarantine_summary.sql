{#- Quarantine summary: source rows kept out of the P&L, counted by table and reason. Always a
    warning at most: the operator must see it, but quarantined rows are handled, not a failure. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity='warn',
    fail_calc='coalesce(sum(row_count), 0)',
) }}

with quarantined as (

    select source_table, reason
    from {{ ref('quarantine') }}
    where action = 'quarantined'

),

final as (

    select
        source_table,
        reason,
        count() as row_count
    from quarantined
    group by source_table, reason

)

select * from final
