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

{{ flag_id_copies('event_id', [
    'event_id', 'block_time', 'wallet_address', 'market_id', 'condition_id', 'outcome_index',
    'event_type', 'shares', 'usd_value',
]) }},

{{ join_market_and_resolution() }},

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
