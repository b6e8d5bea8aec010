{#- One row per (wallet, resolved condition) still holding a position when the condition resolved,
    with the outcome it backed and whether it won, lost or pushed (docs/domain.md, section 4).
    A view: a batched model selecting from it filters on batch_key itself (a view is compiled
    once, without the run's key range), and batch_key is a grouping and join key at every step
    so that filter reaches the source tables. -#}

with resolved_flows as (

    select *
    from {{ ref('int_flows_unioned') }}
    where is_resolved = 1

),

markets as (

    select
        market_id,
        category,
        outcome_labels
    from {{ ref('int_markets_validated') }}
    where is_valid = 1

),

pairs as (

    select
        wallet_address,
        condition_id,
        batch_key,
        -- one market per condition once validated (docs/domain.md section 7); min() only makes it explicit
        min(market_id) as market_id,
        any(payout_denominator) as payout_denominator,
        -- is_resolved = 1 guarantees a resolution time
        assumeNotNull(any(resolved_at)) as resolved_at,
        count() as num_flows
    from resolved_flows
    group by wallet_address, condition_id, batch_key

),

held_by_outcome as (

    -- REDEEM legs are left out: a redeemed token was still held when the condition resolved; so
    -- are SPLIT and MERGE legs after resolved_at (valid, docs/domain.md section 7, but they did not
    -- change what was held at the resolution)
    select
        wallet_address,
        condition_id,
        batch_key,
        outcome_index,
        any(payout_numerator) as payout_numerator,
        {{ checked_sum('delta_shares', 6) }} as net_shares,
        if(net_shares > 0, net_shares, toDecimal128(0, 6)) as held_shares
    from resolved_flows
    where flow_type != 'REDEEM'
      and block_time <= resolved_at
    group by wallet_address, condition_id, batch_key, outcome_index

),

positions as (

    select
        wallet_address,
        condition_id,
        batch_key,
        {{ checked_sum('held_shares', 6) }} as total_held_shares,
        -- the largest holding; on a tie the lowest outcome index, so every rebuild agrees
        argMax(outcome_index, (held_shares, -toInt16(outcome_index))) as final_outcome_index,
        argMax(payout_numerator, (held_shares, -toInt16(outcome_index))) as final_numerator,
        max(held_shares) as final_held_shares,
        arrayCount(held -> held = final_held_shares, groupArray(held_shares)) > 1 as is_hedged
    from held_by_outcome
    group by wallet_address, condition_id, batch_key
    -- a wallet flat at resolution exited before it: that is P&L, not a prediction
    having total_held_shares >= 0.01

),

classified as (

    select
        positions.wallet_address as wallet_address,
        positions.condition_id as condition_id,
        pairs.market_id as market_id,
        positions.final_outcome_index as final_outcome_index,
        positions.final_held_shares as held_shares,
        -- num / S rounded half-even to 12 decimals (docs/domain.md section 7): 2/3 is 0.666666666667
        {{ round_half_even('positions.final_numerator', 'pairs.payout_denominator', 12) }} as p_final,
        multiIf(
            positions.is_hedged, 'push',
            positions.final_numerator = pairs.payout_denominator, 'won',
            positions.final_numerator = 0, 'lost',
            'push'
        ) as result,
        pairs.num_flows as num_flows,
        pairs.resolved_at as resolved_at,
        positions.batch_key as batch_key
    from positions
    inner join pairs
        on positions.wallet_address = pairs.wallet_address
        and positions.condition_id = pairs.condition_id
        and positions.batch_key = pairs.batch_key

),

final as (

    select
        classified.wallet_address as wallet_address,
        classified.condition_id as condition_id,
        classified.market_id as market_id,
        classified.final_outcome_index as final_outcome_index,
        -- a market missing from markets_dim (gate 1), or an empty label, names the outcome by index
        if(
            length(markets.outcome_labels) > classified.final_outcome_index
                and markets.outcome_labels[classified.final_outcome_index + 1] != '',
            markets.outcome_labels[classified.final_outcome_index + 1],
            concat('outcome ', toString(classified.final_outcome_index))
        ) as final_side,
        classified.held_shares as held_shares,
        classified.p_final as p_final,
        classified.result as result,
        toUInt8(classified.result = 'won') as won,
        classified.num_flows as num_flows,
        classified.resolved_at as resolved_at,
        ifNull(markets.category, '') as category,
        classified.batch_key as batch_key
    from classified
    left join markets
        on classified.market_id = markets.market_id

)

select * from final
