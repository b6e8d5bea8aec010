{#- Every ctf_events row, typed and normalised (hex ids lower-cased), with its row-local quarantine
    reasons (docs/domain.md sections 6 and 7). Checks that need other rows or tables (duplicate
    ids, markets, resolutions, the REDEEM rules) are in int_ctf_events_validated. -#}
with source_rows as (
    select
        event_id,
        block_time,
        lower(wallet_address) as wallet_address,
        market_id,
        lower(condition_id) as condition_id,
        outcome_index,
        toString(event_type) as event_type,
        shares,
        usd_value
    from {{ source('polymarket', 'ctf_events') }}
),

final as (
    select
        *,
        {{ batch_key('condition_id') }} as batch_key,
        {{ quarantine_reasons([
            ["event_id = ''", 'empty event_id'],
            ["wallet_address = ''", 'empty wallet_address'],
            ["market_id = ''", 'empty market_id'],
            ["condition_id = ''", 'empty condition_id'],
            ['shares <= 0', 'shares <= 0'],
            ['usd_value < 0 or (shares > 0 and usd_value > shares)', 'price outside [0, 1]'],
            [above_magnitude_bound('shares'), 'shares above 10^15'],
            [above_magnitude_bound('usd_value'), 'usd_value above 10^15'],
        ]) }} as row_reasons
    from source_rows
)

select * from final
