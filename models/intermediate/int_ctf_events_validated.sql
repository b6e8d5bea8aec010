{#- Every ctf_events row with its verdict (docs/domain.md sections 6 and 7): the staged row
    reasons plus outcome_index >= n, a duplicate event_id with different content, the market and
    condition rules, and the REDEEM rules. SPLIT and MERGE are valid at any time; a REDEEM is valid
    only on a resolved condition, at or after resolved_at, with usd_value = shares * p_i within
    0.000001. Derived on every build: a REDEEM quarantined for a missing resolution is used once
    the resolution arrives. Valid rows (is_valid = 1) are the legs the P&L uses. -#}
{{ config(materialized='scopable_view') }}

with source_rows as (
    select * from {{ ref('stg_polymarket__ctf_events') }}
    where {{ in_refresh_scope('condition_id') }}
),

{{ flag_id_copies('event_id', [
    'event_id', 'block_time', 'wallet_address', 'market_id', 'condition_id', 'outcome_index',
    'event_type', 'shares', 'usd_value',
], ref('stg_polymarket__ctf_events')) }},

{{ join_market_and_resolution() }},

redeems_priced as (
    select
        *,
        -- shares * num_i / S in 18 decimals; greatest() only keeps an unresolved row from dividing by 0
        abs(toDecimal256(usd_value, 18)
            - toDecimal256(shares, 18) * arrayElement(payout_numerators, outcome_index + 1)
              / greatest(payout_denominator, 1)) as redeem_payout_gap
    from checked
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
        {{ validation_verdict([
            ['outcome_index >= outcome_count', 'outcome_index >= outcome_count'],
            ['has_conflicting_copies', 'duplicate event_id with different content'],
            ["event_type = 'REDEEM' and not has_resolution", 'redeem on an unresolved condition'],
            ["event_type = 'REDEEM' and has_resolution and block_time < resolved_at",
             'redeem before the condition resolved'],
            ["event_type = 'REDEEM' and has_resolution and redeem_payout_gap > toDecimal256('0.000001', 18)",
             'redeem usd_value differs from shares * p_i'],
        ] + market_condition_checks()) }}
    from redeems_priced
)

select * from final
