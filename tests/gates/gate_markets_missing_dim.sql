{#- Gate 1: markets traded in trades_raw that markets_dim does not describe (no valid row). One
    missing market is a warning, more is an error. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity='error',
    warn_if='>=1',
    error_if='>1',
) }}

with traded_markets as (

    select
        market_id,
        count() as trades
    from {{ ref('stg_polymarket__trades') }}
    where market_id != ''
      and {{ in_batch_range('batch_key') }}
    group by market_id

),

described_markets as (

    select market_id
    from {{ ref('int_markets_validated') }}
    where is_valid = 1

),

final as (

    select market_id, trades
    from traded_markets
    where market_id not in (select market_id from described_markets)

)

select * from final
