{#- Every trades_raw row, typed and normalised, with its row-local quarantine reasons (docs/domain.md
    sections 6 and 7). Hex ids (wallet_address, condition_id, tx_hash) are lower-cased, so a
    checksummed and a lower-case address are one wallet. Checks that need other rows or tables
    (duplicate ids, markets, resolutions) are in int_trades_validated. -#}
with source_rows as (
    select
        trade_id,
        lower(tx_hash) as tx_hash,
        block_time,
        lower(wallet_address) as wallet_address,
        market_id,
        lower(condition_id) as condition_id,
        outcome_index,
        toString(side) as side,
        shares,
        usd_value,
        fee_usd
    from {{ source('polymarket', 'trades_raw') }}
),

final as (
    select
        *,
        {{ batch_key('condition_id') }} as batch_key,
        {{ quarantine_reasons([
            ["trade_id = ''", 'empty trade_id'],
            ["wallet_address = ''", 'empty wallet_address'],
            ["market_id = ''", 'empty market_id'],
            ["condition_id = ''", 'empty condition_id'],
            ['shares <= 0', 'shares <= 0'],
            ['usd_value < 0 or (shares > 0 and usd_value > shares)', 'price outside [0, 1]'],
            ['fee_usd < 0', 'fee_usd < 0'],
            [above_magnitude_bound('shares'), 'shares above 10^15'],
            [above_magnitude_bound('usd_value'), 'usd_value above 10^15'],
            [above_magnitude_bound('fee_usd'), 'fee_usd above 10^15'],
        ]) }} as row_reasons
    from source_rows
)

select * from final
