{#- Every trades_raw row, typed, with its validation verdict (docs/domain.md section 6). Valid
    rows (quarantine_reason = '' and is_collapsed = 0) are the fills the P&L uses. -#}
with source_rows as (
    select
        trade_id,
        tx_hash,
        block_time,
        wallet_address,
        market_id,
        condition_id,
        outcome_index,
        toString(side) as side,
        shares,
        usd_value,
        fee_usd,
        {{ batch_key('condition_id') }} as batch_key
    from {{ source('polymarket', 'trades_raw') }}
),

{{ flag_id_copies('trade_id', [
    'trade_id', 'tx_hash', 'block_time', 'wallet_address', 'market_id', 'condition_id',
    'outcome_index', 'side', 'shares', 'usd_value', 'fee_usd',
]) }},

{{ join_market_and_resolution() }},

final as (
    select
        trade_id,
        tx_hash,
        block_time,
        wallet_address,
        market_id,
        condition_id,
        outcome_index,
        side,
        shares,
        usd_value,
        fee_usd,
        outcome_count,
        batch_key,
        arrayStringConcat(arrayFilter(reason -> reason != '', [
            if(trade_id = '', 'empty trade_id', ''),
            if(wallet_address = '', 'empty wallet_address', ''),
            if(market_id = '', 'empty market_id', ''),
            if(condition_id = '', 'empty condition_id', ''),
            if(shares <= 0, 'shares <= 0', ''),
            if(usd_value < 0 or (shares > 0 and usd_value > shares), 'price outside [0, 1]', ''),
            if(fee_usd < 0, 'fee_usd < 0', ''),
            if(outcome_index >= outcome_count, 'outcome_index >= outcome_count', ''),
            if(has_conflicting_copies, 'duplicate trade_id with different content', ''),
            if(has_resolution and block_time > resolved_at, 'fill after the condition resolved', ''),
            if(has_market and market_condition_id != condition_id, 'market_id belongs to another condition', '')
        ]), '; ') as quarantine_reason,
        toUInt8(is_extra_copy and not has_conflicting_copies) as is_collapsed
    from checked
)

select * from final
