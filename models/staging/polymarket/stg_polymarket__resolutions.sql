{#- Every resolutions row, typed and normalised (condition_id lower-cased), with
    payout_denominator = sum(payout_numerators) and its row-local quarantine reasons. Duplicates,
    the payout length against the market and conditions without flows are checked in
    int_resolutions_validated. -#}
with source_rows as (
    select
        lower(condition_id) as condition_id,
        payout_numerators,
        resolved_at
    from {{ source('polymarket', 'resolutions') }}
),

final as (
    select
        *,
        -- arraySum of UInt32 is UInt64: no vector of UInt32 numerators can overflow it
        toUInt64(arraySum(payout_numerators)) as payout_denominator,
        {{ batch_key('condition_id') }} as batch_key,
        -- a condition has n >= 2 outcomes whether or not its market is in markets_dim (section 7)
        {{ quarantine_reasons([
            ["condition_id = ''", 'empty condition_id'],
            ['payout_denominator = 0', 'payout vector sums to 0'],
            ['length(payout_numerators) < 2', 'payout vector has fewer than 2 entries'],
        ]) }} as row_reasons
    from source_rows
)

select * from final
