{#- int_source_digests_computed as the results were last built from it: rebuilt with
    int_flows_unioned and the quarantine on a full run (and kept while the sources are unchanged),
    and for its scope's conditions by a refresh, after the tables built from those rows. -#}
-- depends_on: {{ ref('int_flows_unioned') }}
-- depends_on: {{ ref('quarantine') }}
{{ config(
    materialized='source_current_table',
    order_by='(condition_id, source_table)',
    post_hook="{{ record_source_signature() }}",
) }}

with computed as (
    select *
    from {{ ref('int_source_digests_computed') }}
    where {{ in_refresh_scope('condition_id') }}
),

final as (
    select * from computed
)

select * from final
