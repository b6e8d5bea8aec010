{#- Every markets_dim row, typed, with its validation verdict. Valid rows (quarantine_reason = ''
    and is_collapsed = 0) are unique per market_id. -#}
with source_rows as (
    select
        market_id,
        condition_id,
        question,
        category,
        outcome_count,
        outcome_labels,
        end_date,
        cityHash64(market_id, condition_id, question, category, outcome_count, outcome_labels, end_date) as row_hash
    from {{ source('polymarket', 'markets_dim') }}
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

checked as (
    select
        source_rows.*,
        id_versions.versions > 1 as has_conflicting_copies,
        row_number() over (partition by source_rows.market_id, source_rows.row_hash) > 1 as is_extra_copy
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
        {{ batch_key('condition_id') }} as batch_key,
        arrayStringConcat(arrayFilter(reason -> reason != '', [
            if(market_id = '', 'empty market_id', ''),
            if(condition_id = '', 'empty condition_id', ''),
            if(outcome_count < 2, 'outcome_count < 2', ''),
            if(has_conflicting_copies, 'duplicate market_id with different content', '')
        ]), '; ') as quarantine_reason,
        toUInt8(is_extra_copy and not has_conflicting_copies) as is_collapsed
    from checked
)

select * from final
