{#- Gate 3: the wallets of wallet_resolution_outcomes against the wallets holding a position at
    resolution, counted again straight from the validated sources (docs/domain.md, section 4) rather
    than from the Step E models. Always one row, so the stored result keeps both numbers. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity='error',
    fail_calc='sum(expected != actual)',
) }}

with resolved_conditions as (

    select condition_id, resolved_at
    from {{ ref('int_resolutions_validated') }}
    where is_valid = 1
      and {{ in_batch_range('batch_key') }}

),

position_changes as (

    select
        wallet_address,
        condition_id,
        outcome_index,
        block_time,
        if(side = 'BUY', shares, -shares) as delta
    from {{ ref('int_trades_validated') }}
    where is_valid = 1
      and {{ in_batch_range('batch_key') }}

    union all

    -- a REDEEM does not change what was held when the condition resolved, nor does a SPLIT or
    -- MERGE after it
    select
        wallet_address,
        condition_id,
        outcome_index,
        block_time,
        if(event_type = 'SPLIT', shares, -shares) as delta
    from {{ ref('int_ctf_events_validated') }}
    where is_valid = 1
      and event_type in ('SPLIT', 'MERGE')
      and {{ in_batch_range('batch_key') }}

),

held as (

    select
        position_changes.wallet_address as wallet_address,
        position_changes.condition_id as condition_id,
        position_changes.outcome_index as outcome_index,
        -- Decimal256: a sum that cannot wrap (docs/domain.md section 7)
        greatest(sum(toDecimal256(position_changes.delta, 6)), 0) as held_shares
    from position_changes
    inner join resolved_conditions on resolved_conditions.condition_id = position_changes.condition_id
    where position_changes.block_time <= resolved_conditions.resolved_at
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
