{#- Every resolutions row, typed, with its validation verdict. Valid rows (quarantine_reason = ''
    and is_collapsed = 0) are unique per condition_id; a condition whose only resolution rows are
    quarantined counts as unresolved downstream. -#}
with source_rows as (
    select
        condition_id,
        payout_numerators,
        resolved_at,
        cityHash64(condition_id, payout_numerators, resolved_at) as row_hash
    from {{ source('polymarket', 'resolutions') }}
),

id_versions as (
    select
        condition_id as versioned_id,
        uniqExact(row_hash) as versions
    from source_rows
    group by condition_id
    having count() > 1
),

market_outcome_counts as (
    -- n of the condition according to its valid markets; min and max differ only if they disagree
    select
        condition_id as market_condition_id,
        min(outcome_count) as min_outcome_count,
        max(outcome_count) as max_outcome_count,
        1 as market_found
    from {{ ref('stg_polymarket__markets') }}
    where quarantine_reason = '' and is_collapsed = 0
    group by condition_id
),

conditions_with_flows as (
    -- raw rows on purpose: whether a flow is valid depends on this model, not the other way round
    select distinct condition_id as flow_condition_id, 1 as flows_found
    from (
        select condition_id from {{ source('polymarket', 'trades_raw') }}
        union all
        select condition_id from {{ source('polymarket', 'ctf_events') }}
    )
),

checked as (
    select
        source_rows.*,
        id_versions.versions > 1 as has_conflicting_copies,
        row_number() over (partition by source_rows.condition_id, source_rows.row_hash) > 1 as is_extra_copy,
        market_outcome_counts.market_found = 1 as has_market,
        market_outcome_counts.min_outcome_count,
        market_outcome_counts.max_outcome_count,
        conditions_with_flows.flows_found = 1 as has_flows
    from source_rows
    left join id_versions on id_versions.versioned_id = source_rows.condition_id
    left join market_outcome_counts on market_outcome_counts.market_condition_id = source_rows.condition_id
    left join conditions_with_flows on conditions_with_flows.flow_condition_id = source_rows.condition_id
),

final as (
    select
        condition_id,
        payout_numerators,
        resolved_at,
        toUInt64(arraySum(payout_numerators)) as payout_denominator,
        {{ batch_key('condition_id') }} as batch_key,
        arrayStringConcat(arrayFilter(reason -> reason != '', [
            if(condition_id = '', 'empty condition_id', ''),
            if(payout_denominator = 0, 'payout vector sums to 0', ''),
            if(has_market and (length(payout_numerators) != min_outcome_count
                               or length(payout_numerators) != max_outcome_count),
               'payout vector length differs from outcome_count', ''),
            if(has_conflicting_copies, 'duplicate condition_id with different content', ''),
            if(not has_flows, 'resolution of a condition with no flows', '')
        ]), '; ') as quarantine_reason,
        toUInt8(is_extra_copy and not has_conflicting_copies) as is_collapsed
    from checked
)

select * from final
