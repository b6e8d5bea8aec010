{#- The checks trades_raw and ctf_events share (docs/domain.md section 6). Both macros emit CTEs
    for a staging model whose raw rows, with their batch_key, are in a CTE named `source_rows`. -#}

{#- Flags the copies of each id: `has_conflicting_copies` when copies differ in content (every copy
    is then quarantined), `is_extra_copy` for all but one of a set of identical copies (collapsed).
    Global over the table, not per batch: conflicting copies can name different conditions.
    Grouping by a hash is several times cheaper than by the string; a collision only sends a unique
    id down the duplicated path, where grouping by the id itself clears it. Ends in CTE
    `rows_with_copies`. -#}
{% macro flag_id_copies(id_column, content_columns) %}
duplicated_id_hashes as (
    select cityHash64({{ id_column }}) as id_hash
    from source_rows
    group by id_hash
    having count() > 1
),

id_versions as (
    select
        {{ id_column }} as versioned_id,
        uniqExact(cityHash64({{ content_columns | join(', ') }})) as versions
    from source_rows
    where cityHash64({{ id_column }}) in (select id_hash from duplicated_id_hashes)
    group by {{ id_column }}
),

single_rows as (
    select *, false as has_conflicting_copies, false as is_extra_copy
    from source_rows
    where cityHash64({{ id_column }}) not in (select id_hash from duplicated_id_hashes)
),

duplicated_rows as (
    -- identical copies share condition_id, hence batch_key: a batch always sees all of them
    select
        source_rows.*,
        id_versions.versions > 1 as has_conflicting_copies,
        row_number() over (partition by source_rows.batch_key, source_rows.{{ id_column }}) > 1
            as is_extra_copy
    from source_rows
    inner join id_versions on id_versions.versioned_id = source_rows.{{ id_column }}
),

rows_with_copies as (
    select * from single_rows
    union all
    select * from duplicated_rows
)
{%- endmacro %}

{#- Joins each row of `rows_with_copies` to its valid market and its condition's valid resolution:
    `has_market`, `market_condition_id`, `has_resolution`, `resolved_at`, and `outcome_count` (n from
    the market, else the payout vector's length, else NULL: unknown). Ends in CTE `checked`. -#}
{% macro join_market_and_resolution() %}
markets as (
    select
        market_id as dim_market_id,
        condition_id as market_condition_id,
        outcome_count as market_outcome_count,
        1 as market_found
    from {{ ref('stg_polymarket__markets') }}
    where quarantine_reason = '' and is_collapsed = 0
),

resolutions as (
    select
        condition_id as resolved_condition_id,
        resolved_at,
        length(payout_numerators) as payout_length,
        1 as resolution_found
    from {{ ref('stg_polymarket__resolutions') }}
    where quarantine_reason = '' and is_collapsed = 0
),

checked as (
    select
        rows_with_copies.*,
        markets.market_found = 1 as has_market,
        markets.market_condition_id,
        resolutions.resolution_found = 1 as has_resolution,
        resolutions.resolved_at,
        multiIf(has_market, toUInt16(markets.market_outcome_count),
                has_resolution, toUInt16(resolutions.payout_length),
                null) as outcome_count
    from rows_with_copies
    left join markets on markets.dim_market_id = rows_with_copies.market_id
    left join resolutions on resolutions.resolved_condition_id = rows_with_copies.condition_id
)
{%- endmacro %}
