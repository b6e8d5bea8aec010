{#- Gate 2: valid flows of resolved conditions whose P&L is missing or NULL: every pair in
    pnl_positions and every trade in pnl. Compared against int_flows_unioned, so a row missing
    from the marts is caught, not only a NULL in them. -#}
{{ config(
    tags=['gate'],
    store_failures=true,
    severity='error',
) }}

with resolved_flows as (

    select flow_id, flow_type, wallet_address, condition_id
    from {{ ref('int_flows_unioned') }}
    where is_resolved = 1
      and {{ in_batch_range('batch_key') }}

),

priced_pairs as (

    select wallet_address, condition_id
    from {{ ref('pnl_positions') }}
    where realized_pnl_usd is not null
      and {{ in_batch_range('batch_key') }}

),

priced_trades as (

    select flow_id
    from {{ ref('pnl') }}
    where flow_type in ('BUY', 'SELL')
      and realized_pnl_usd is not null
      and {{ in_batch_range('batch_key') }}

),

unpriced_pairs as (

    select distinct
        'pair' as kind,
        wallet_address,
        condition_id,
        '' as flow_id
    from resolved_flows
    where (wallet_address, condition_id) not in (select wallet_address, condition_id from priced_pairs)

),

unpriced_trades as (

    select
        'trade' as kind,
        wallet_address,
        condition_id,
        flow_id
    from resolved_flows
    where flow_type in ('BUY', 'SELL')
      and flow_id not in (select flow_id from priced_trades)

),

final as (

    select * from unpriced_pairs
    union all
    select * from unpriced_trades

)

select * from final
