{#- Every resolutions row with its verdict (docs/domain.md section 6): the staged row reasons plus
    a payout vector whose length differs from the outcome_count of the condition's valid market
    (only checked when a market is known), a duplicate condition_id with different content (every
    copy) and a resolution of an unknown condition (neither in markets_dim nor in the flows; one in
    markets_dim without flows is valid and unused, section 7). Valid rows (is_valid = 1) are unique per
    condition_id; a condition whose only resolution rows are quarantined is unresolved downstream. -#}
with source_rows as (
    select
        *,
        cityHash64(condition_id, payout_numerators, resolved_at) as row_hash
    from {{ ref('stg_polymarket__resolutions') }}
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
    -- int_markets_validated leaves at most one valid market per condition
    select
        condition_id as market_condition_id,
        outcome_count as market_outcome_count,
        1 as market_found
    from {{ ref('int_markets_validated') }}
    where is_valid = 1
),

conditions_with_flows as (
    -- every staged row, valid or not: whether a flow is valid depends on this model, not the
    -- other way round
    select distinct condition_id as flow_condition_id, 1 as flows_found
    from (
        select condition_id from {{ ref('stg_polymarket__trades') }}
        union all
        select condition_id from {{ ref('stg_polymarket__ctf_events') }}
    )
),

checked as (
    select
        source_rows.*,
        id_versions.versions > 1 as has_conflicting_copies,
        row_number() over (partition by source_rows.condition_id, source_rows.row_hash) > 1 as is_extra_copy,
        market_outcome_counts.market_found = 1 as has_market,
        market_outcome_counts.market_outcome_count,
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
        payout_denominator,
        batch_key,
        -- docs/domain.md section 7: a condition in markets_dim without flows is valid and unused
        {{ validation_verdict([
            ['has_market and length(payout_numerators) != market_outcome_count',
             'payout vector length differs from outcome_count'],
            ['has_conflicting_copies', 'duplicate condition_id with different content'],
            ['not has_flows and not has_market', 'resolution of an unknown condition'],
        ]) }}
    from checked
)

select * from final
