{#- Every trades_raw row with its verdict (docs/domain.md sections 6 and 7): the staged row
    reasons plus outcome_index >= n, a duplicate trade_id with different content (every copy,
    detected over the whole table), a fill after the condition resolved, and the market and
    condition rules. Valid rows (is_valid = 1) are the fills the P&L uses. -#}
{{ config(materialized='scopable_view') }}

with source_rows as (
    select * from {{ ref('stg_polymarket__trades') }}
    where {{ in_refresh_scope('condition_id') }}
),

{{ flag_id_copies('trade_id', [
    'trade_id', 'tx_hash', 'block_time', 'wallet_address', 'market_id', 'condition_id',
    'outcome_index', 'side', 'shares', 'usd_value', 'fee_usd',
], ref('stg_polymarket__trades')) }},

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
        {{ validation_verdict([
            ['outcome_index >= outcome_count', 'outcome_index >= outcome_count'],
            ['has_conflicting_copies', 'duplicate trade_id with different content'],
            ['has_resolution and block_time > resolved_at', 'fill after the condition resolved'],
        ] + market_condition_checks()) }}
    from checked
)

select * from final
