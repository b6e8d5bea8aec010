{#- Every markets_dim row, typed and normalised (condition_id lower-cased), with its row-local
    quarantine reasons. Duplicate market ids and conditions under several markets are checked in
    int_markets_validated. -#}
with source_rows as (
    select
        market_id,
        lower(condition_id) as condition_id,
        question,
        category,
        outcome_count,
        outcome_labels,
        end_date
    from {{ source('polymarket', 'markets_dim') }}
),

final as (
    select
        *,
        {{ batch_key('condition_id') }} as batch_key,
        {{ quarantine_reasons([
            ["market_id = ''", 'empty market_id'],
            ["condition_id = ''", 'empty condition_id'],
            ['outcome_count < 2', 'outcome_count < 2'],
        ]) }} as row_reasons
    from source_rows
)

select * from final
