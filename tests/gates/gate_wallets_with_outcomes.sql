{#- Gate 3: the wallets of wallet_resolution_outcomes against the wallets holding a position at
    resolution, counted again from the valid flows (int_flows_unioned: the validated sources,
    persisted once per source change) with rules of its own (docs/domain.md, section 4) rather than
    from the Step E models. Always one row, so the stored result keeps both numbers. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity='error',
    fail_calc='sum(expected != actual)',
) }}

with position_changes as (

    -- the valid flows of resolved conditions; a REDEEM does not change what was held when the
    -- condition resolved, nor does a SPLIT or MERGE after it
    select
        wallet_address,
        condition_id,
        outcome_index,
        delta_shares
    from {{ ref('int_flows_unioned') }}
    where is_resolved = 1
      and flow_type != 'REDEEM'
      and block_time <= resolved_at
      and {{ in_batch_range('batch_key') }}

),

held as (

    select
        wallet_address,
        condition_id,
        outcome_index,
        -- Decimal256: a sum that cannot wrap (docs/domain.md section 7)
        greatest(sum(toDecimal256(delta_shares, 6)), 0) as held_shares
    from position_changes
    group by wallet_address, condition_id, outcome_index

),

open_pairs as (

    select wallet_address, condition_id
    from held
    group by wallet_address, condition_id
    having sum(held_shares) >= toDecimal256('0.01', 6)

),

expected_wallets as (

    select uniqExact(wallet_address) as expected
    from open_pairs

),

actual_wallets as (

    select uniqExact(wallet_address) as actual
    from {{ ref('wallet_resolution_outcomes') }}
    where {{ in_batch_range('batch_key') }}

),

final as (

    select expected, actual
    from expected_wallets
    cross join actual_wallets

)

select * from final
