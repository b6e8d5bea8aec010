{#- Every ctf_events row, typed, with its validation verdict (docs/domain.md section 6). Valid
    rows (quarantine_reason = '' and is_collapsed = 0) are the SPLIT, MERGE and REDEEM legs the
    P&L uses. -#}
with source_rows as (
    select
        event_id,
        block_time,
        wallet_address,
        market_id,
        condition_id,
        outcome_index,
        toString(event_type) as event_type,
        shares,
        usd_value,
        {{ batch_key('condition_id') }} as batch_key
    from {{ source('polymarket', 'ctf_events') }}
),

duplicated_id_hashes as (
    -- global over the table, not per batch: conflicting copies can name different conditions.
    -- Grouping by a hash is several times cheaper than by the string; a collision only sends a
    -- unique id down the duplicated path, where grouping by the id itself clears it
    select cityHash64(event_id) as id_hash
    from source_rows
    group by id_hash
    having count() > 1
),

id_versions as (
    select
        event_id as versioned_id,
        uniqExact(cityHash64(event_id, block_time, wallet_address, market_id, condition_id,
                             outcome_index, event_type, shares, usd_value)) as versions
    from source_rows
    where cityHash64(event_id) in (select id_hash from duplicated_id_hashes)
    group by event_id
),

single_rows as (
    select *, false as has_conflicting_copies, false as is_extra_copy
    from source_rows
    where cityHash64(event_id) not in (select id_hash from duplicated_id_hashes)
),

duplicated_rows as (
    -- identical copies share condition_id, hence batch_key: a batch always sees all of them
    select
        source_rows.*,
        id_versions.versions > 1 as has_conflicting_copies,
        row_number() over (partition by source_rows.batch_key, source_rows.event_id) > 1 as is_extra_copy
    from source_rows
    inner join id_versions on id_versions.versioned_id = source_rows.event_id
),

rows_with_copies as (
    select * from single_rows
    union all
    select * from duplicated_rows
),

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
),

final as (
    select
        event_id,
        block_time,
        wallet_address,
        market_id,
        condition_id,
        outcome_index,
        event_type,
        shares,
        usd_value,
        outcome_count,
        batch_key,
        arrayStringConcat(arrayFilter(reason -> reason != '', [
            if(event_id = '', 'empty event_id', ''),
            if(wallet_address = '', 'empty wallet_address', ''),
            if(market_id = '', 'empty market_id', ''),
            if(condition_id = '', 'empty condition_id', ''),
            if(shares <= 0, 'shares <= 0', ''),
            if(usd_value < 0 or (shares > 0 and usd_value > shares), 'price outside [0, 1]', ''),
            if(outcome_index >= outcome_count, 'outcome_index >= outcome_count', ''),
            if(has_conflicting_copies, 'duplicate event_id with different content', ''),
            -- a REDEEM necessarily follows the resolution
            if(event_type != 'REDEEM' and has_resolution and block_time > resolved_at,
               'event after the condition resolved', ''),
            if(has_market and market_condition_id != condition_id, 'market_id belongs to another condition', '')
        ]), '; ') as quarantine_reason,
        toUInt8(is_extra_copy and not has_conflicting_copies) as is_collapsed
    from checked
)

select * from final
