{#- The checks int_trades_validated and int_ctf_events_validated share (docs/domain.md sections 6
    and 7). The macros emit CTEs for a model whose staged rows are in a CTE named `source_rows`. -#}

{#- Flags the copies of each id: `has_conflicting_copies` when copies differ in content (every copy
    is then quarantined), `is_extra_copy` for all but one of a set of identical copies (collapsed).
    Global over the table, not per batch: conflicting copies can name different conditions.
    Grouping by a hash is several times cheaper than by the string; a collision only sends a unique
    id down the duplicated path, where grouping by the id itself clears it. In a refresh
    `source_rows` holds the scope's rows only, so the copies are looked up in `staged` (the whole
    staged table) by the scope's ids. Ends in CTE `rows_with_copies`. -#}
{% macro flag_id_copies(id_column, content_columns, staged) %}
{%- if refresh_mode() is not none %}
id_copies as (
    select *
    from {{ staged }}
    where cityHash64({{ id_column }}) in (select cityHash64({{ id_column }}) from source_rows)
),
{%- set copies = 'id_copies' %}
{%- else %}
{%- set copies = 'source_rows' %}
{%- endif %}

duplicated_id_hashes as (
    select cityHash64({{ id_column }}) as id_hash
    from {{ copies }}
    group by id_hash
    having count() > 1
),

id_versions as (
    select
        {{ id_column }} as versioned_id,
        uniqExact(cityHash64({{ content_columns | join(', ') }})) as versions
    from {{ copies }}
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

{#- Joins each row of `rows_with_copies` to the valid markets_dim row of its market and of its
    condition, its condition's valid resolution, and the condition counts of markets missing from
    markets_dim: `has_market`, `market_condition_id`, `has_condition_market`, `condition_market_id`,
    `has_resolution`, `resolved_at`, `payout_numerators`, `payout_denominator`,
    `conditions_of_market`, `markets_of_condition`, and `outcome_count` (n from the market, else the
    payout vector's length, else NULL: unknown). Ends in CTE `checked`. -#}
{% macro join_market_and_resolution() %}
valid_markets as (
    -- int_markets_validated leaves at most one valid market per market_id and per condition_id;
    -- names of their own, so joining this twice leaves the flow row's columns unambiguous
    select
        market_id as valid_market_id,
        condition_id as valid_condition_id,
        outcome_count as valid_outcome_count,
        1 as found
    from {{ ref('int_markets_validated') }}
    where is_valid = 1
),

resolutions as (
    select
        condition_id as resolved_condition_id,
        resolved_at,
        payout_numerators,
        payout_denominator,
        length(payout_numerators) as payout_length,
        1 as resolution_found
    from {{ ref('int_resolutions_validated') }}
    where is_valid = 1
),

missing_market_conditions as (
    select
        market_id as missing_market_id,
        condition_id as missing_condition_id,
        conditions_of_market,
        markets_of_condition
    from {{ scoped_ref('int_missing_market_conditions_counted') }}
),

checked as (
    select
        rows_with_copies.*,
        markets.found = 1 as has_market,
        markets.valid_condition_id as market_condition_id,
        condition_markets.found = 1 as has_condition_market,
        condition_markets.valid_market_id as condition_market_id,
        resolutions.resolution_found = 1 as has_resolution,
        resolutions.resolved_at,
        resolutions.payout_numerators,
        resolutions.payout_denominator,
        missing_market_conditions.conditions_of_market,
        missing_market_conditions.markets_of_condition,
        multiIf(has_market, toUInt16(markets.valid_outcome_count),
                has_resolution, toUInt16(resolutions.payout_length),
                null) as outcome_count
    from rows_with_copies
    left join valid_markets as markets on markets.valid_market_id = rows_with_copies.market_id
    left join valid_markets as condition_markets
        on condition_markets.valid_condition_id = rows_with_copies.condition_id
    left join resolutions on resolutions.resolved_condition_id = rows_with_copies.condition_id
    left join missing_market_conditions
        on missing_market_conditions.missing_market_id = rows_with_copies.market_id
        and missing_market_conditions.missing_condition_id = rows_with_copies.condition_id
)
{%- endmacro %}

{#- The market and condition checks of a flow row of CTE `checked` (docs/domain.md section 7: one
    market has one condition), as [condition, reason] pairs for quarantine_reasons. -#}
{% macro market_condition_checks() %}
  {{- return([
      ['has_market and market_condition_id != condition_id', 'market_id belongs to another condition'],
      ['has_condition_market and condition_market_id != market_id', 'condition_id belongs to another market'],
      ['not has_market and conditions_of_market > 1',
       'market missing from markets_dim names several conditions'],
      ['not has_market and not has_condition_market and markets_of_condition > 1',
       'condition traded under several markets missing from markets_dim'],
  ]) -}}
{% endmacro %}

{#- The verdict columns of a validated model: `quarantine_reason` (the staged row_reasons and the
    given cross-row reasons joined by '; ', '' when valid), `is_collapsed` (1 for the extra copies
    of an identical duplicate) and `is_valid`, the one flag downstream models filter on. Needs
    `row_reasons`, `has_conflicting_copies` and `is_extra_copy` in scope. -#}
{% macro validation_verdict(cross_row_checks) %}
        arrayStringConcat(arrayConcat(row_reasons, {{ quarantine_reasons(cross_row_checks) }}), '; ')
            as quarantine_reason,
        toUInt8(is_extra_copy and not has_conflicting_copies) as is_collapsed,
        toUInt8(quarantine_reason = '' and is_collapsed = 0) as is_valid
{%- endmacro %}
