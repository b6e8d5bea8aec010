{#- Every markets_dim row with its verdict (docs/domain.md sections 6 and 7): the staged row
    reasons plus a duplicate market_id with different content (every copy) and a condition_id
    listed under more than one market (every such market: the condition's market is ambiguous).
    Valid rows (is_valid = 1) are unique per market_id and per condition_id. -#}
with source_rows as (
    select
        *,
        cityHash64(market_id, condition_id, question, category, outcome_count, outcome_labels, end_date)
            as row_hash
    from {{ ref('stg_polymarket__markets') }}
),

id_versions as (
    -- global over the table: copies of one id may sit anywhere
    select
        market_id as versioned_id,
        uniqExact(row_hash) as versions
    from source_rows
    group by market_id
    having count() > 1
),

shared_conditions as (
    select condition_id as shared_condition_id
    from source_rows
    where empty(row_reasons)
    group by condition_id
    having uniqExact(market_id) > 1
),

checked as (
    select
        source_rows.*,
        id_versions.versions > 1 as has_conflicting_copies,
        row_number() over (partition by source_rows.market_id, source_rows.row_hash) > 1 as is_extra_copy,
        source_rows.condition_id in (select shared_condition_id from shared_conditions) as is_shared_condition
    from source_rows
    left join id_versions on id_versions.versioned_id = source_rows.market_id
),

final as (
    select
        market_id,
        condition_id,
        question,
        category,
        outcome_count,
        outcome_labels,
        end_date,
        batch_key,
        {{ validation_verdict([
            ['has_conflicting_copies', 'duplicate market_id with different content'],
            ['is_shared_condition', 'condition_id listed under several markets'],
        ]) }}
    from checked
)

select * from final
