{#- One row per batch key holding valid flows: its pairs (what `enrich run` packs into batches)
    and a signature of everything its result rows are computed from (the count and an
    order-independent hash of its valid flows, which carry their resolution, and a hash of the
    markets_dim rows those flows name, whose labels and category reach Step E). A run compares
    these with the signatures its committed batches were built from to find the keys to build
    again. Built with int_flows_unioned and kept while the sources are unchanged, so a run on
    unchanged sources does not hash every flow again. -#}
{{ config(
    materialized='source_current_table',
    order_by='batch_key',
    post_hook="{{ record_source_signature() }}",
) }}

with flows as (
    select *
    from {{ ref('int_flows_unioned') }}
),

flow_sums as (
    select
        batch_key,
        uniqExact(wallet_address, condition_id) as pairs,
        count() as flows,
        sum(cityHash64(tuple(*))) as flows_hash
    from flows
    group by batch_key
),

traded_markets as (
    select distinct batch_key, market_id
    from flows
),

market_rows as (
    select
        market_id,
        sum(cityHash64(market_id, condition_id, question, category, outcome_count, outcome_labels, end_date))
            as market_hash
    from {{ ref('int_markets_validated') }}
    where is_valid = 1
    group by market_id
),

market_sums as (
    select
        traded_markets.batch_key as batch_key,
        sum(market_rows.market_hash) as markets_hash
    from traded_markets
    left join market_rows on market_rows.market_id = traded_markets.market_id
    group by traded_markets.batch_key
),

final as (
    select
        flow_sums.batch_key as batch_key,
        flow_sums.pairs as pairs,
        flow_sums.flows as flows,
        flow_sums.flows_hash as flows_hash,
        market_sums.markets_hash as markets_hash
    from flow_sums
    left join market_sums on market_sums.batch_key = flow_sums.batch_key
)

select * from final
