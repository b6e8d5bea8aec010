{#- docs/domain.md section 8: for a resolved pair with no fees, no sell beyond its holdings and
    nothing left open (every token it held redeemed or sold), the average-cost lens equals the
    section 3 P&L exactly. Always one row: the qualifying pairs and those whose two numbers differ.
    It warns on any mismatch, and when no pair qualifies (the test would prove nothing). The counts
    are logged when the test runs and kept in its stored-failures table. -#}
{{ config(
    severity='warn',
    store_failures=true,
    fail_calc='sum(mismatching_pairs) + sum(qualifying_pairs = 0)',
) }}

{%- set summary -%}
with pairs as (

    select
        realized_pnl_usd,
        avg_cost_realized_pnl_usd
    from {{ ref('pnl_positions') }}
    where is_resolved = 1
      and fees_usd = 0
      -- the lens's amounts equal the net positions only when no sell was ever clamped
      and open_amounts = net_shares
      and arrayAll(amount -> amount = 0, open_amounts)
      and {{ in_batch_range('batch_key') }}

),

final as (

    select
        count() as qualifying_pairs,
        countIf(avg_cost_realized_pnl_usd != realized_pnl_usd) as mismatching_pairs
    from pairs

)

select * from final
{%- endset -%}

{%- if execute and flags.WHICH in ('test', 'build') -%}
  {%- set counts = run_query(summary).rows[0] -%}
  {{- log('avg-cost lens equality: ' ~ counts['qualifying_pairs'] ~ ' qualifying pairs, '
          ~ counts['mismatching_pairs'] ~ ' mismatching', info=true) -}}
{%- endif %}

{{ summary }}
