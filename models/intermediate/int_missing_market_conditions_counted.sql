{#- The (market_id, condition_id) combinations named by trade and ctf rows whose market has no
    valid markets_dim row, with how many conditions the market names and how many such markets the
    condition appears under (docs/domain.md section 7: a market missing from markets_dim whose rows
    name more than one condition is ambiguous). Only rows valid on their own count: an empty
    condition_id must not make its market ambiguous. In a refresh only the markets the scope's
    rows name: every row of such a market counts, wherever its condition is. -#}
{{ config(materialized='scopable_view') }}

with described_markets as (
    select market_id
    from {{ ref('int_markets_validated') }}
    where is_valid = 1
),

flow_rows as (
    select market_id, condition_id
    from {{ ref('stg_polymarket__trades') }}
    where empty(row_reasons)
    union all
    select market_id, condition_id
    from {{ ref('stg_polymarket__ctf_events') }}
    where empty(row_reasons)
),
{%- if refresh_mode() is not none %}

scope_markets as (
    select market_id
    from {{ ref('stg_polymarket__trades') }}
    where {{ in_refresh_scope('condition_id') }}
    union distinct
    select market_id
    from {{ ref('stg_polymarket__ctf_events') }}
    where {{ in_refresh_scope('condition_id') }}
),
{%- endif %}

missing_market_conditions as (
    select distinct market_id, condition_id
    from flow_rows
    where market_id not in (select market_id from described_markets)
    {%- if refresh_mode() is not none %}
      and market_id in (select market_id from scope_markets)
    {%- endif %}
),

final as (
    select
        market_id,
        condition_id,
        count() over (partition by market_id) as conditions_of_market,
        count() over (partition by condition_id) as markets_of_condition
    from missing_market_conditions
)

select * from final
