"""The statements `enrich seed` runs, in order, to generate the synthetic dataset inside ClickHouse.

`$s` is the scratch database, `$t` the target database (both quoted identifiers); every value is a
bound parameter. Amounts are integers while generating (shares in cents of a token, cash in micro-
USD) so every decimal written is exact. Every random choice is `cityHash64` of the seed and the
choice's coordinates, so one seed always gives the same rows.

Roles per condition (its `m` participants, one pair each): slots `0 .. kw-1` are market makers
drawn from the few "whale" wallets (they SPLIT inventory and sell it); slots `kw ..` are traders,
split over tiers of wallets by fixed percentages: a small tier takes as many slots as a large one,
so its wallets are in many more conditions (a heavy tail). Each tier hands out its wallets in
rotation, so a condition never gets one wallet twice and every wallet gets at least one condition.
Each trader starts one or more actions:
  1 fill:  buy from a market maker; maybe later resell part of it to another trader;
  2 mint:  n traders buy complementary outcomes at prices summing to 1; maybe later sell part of
           it back as a merge match;
  3 split: SPLIT, sell one outcome to another trader; maybe later MERGE the complete sets left.
Every seller owns what it sells, every fill has its counterparty rows, and after resolution most
holders REDEEM, so the data is a closed system (docs/domain.md section 5).
"""

from __future__ import annotations

# Leg kinds while generating: the trades_raw side values, and the ctf_events event_type values + 10.
BUY, SELL, SPLIT, MERGE, REDEEM = 1, 2, 11, 12, 13
FILL, MINT, SPLIT_SELL = 1, 2, 3


def hex_digits(args: str, count: int) -> str:
    """`count` lowercase hex characters drawn from `cityHash64(args, k)` chunks."""
    chunks = [f"lower(leftPad(hex(cityHash64({args}, {k})), 16, '0'))" for k in range((count + 15) // 16)]
    return f"substring(concat({', '.join(chunks)}), 1, {count})"


def event_key(c: str, slot: str, action: str, phase: int) -> str:
    """A unique event number by construction: condition, slot, action and phase in disjoint bits."""
    return f"((toUInt64({c}) * 65536 + {slot}) * 256 + {action}) * 16 + {phase}"


def _prices(salt: int) -> str:
    """n prices in cents, each >= 1, summing to exactly 100 (a mint or merge match)."""
    weights = f"arrayMap(k -> 1 + cityHash64(h, {salt}, k) % 100, range(n))"
    head = f"arrayMap(w -> 1 + intDiv(w * (100 - n), arraySum({weights})), arrayPopBack({weights}))"
    return f"arrayPushBack({head}, 100 - arraySum({head}))"


CONDITIONS = """
create table $s.conditions engine = MergeTree order by c as
with
candidates as (
    select
        toUInt32(number) as c,
        toInt64(least({size_cap:UInt32}, {size_min:UInt32} + floor({size_scale:Float64}
            * (pow((cityHash64({seed:UInt64}, 'size', number) % 1000000 + 1) / 1000001, -0.6) - 1))))
            as drawn_size
    from numbers({max_conditions:UInt64})
),
running as (
    select
        c,
        drawn_size,
        {target_pairs:Int64} - (sum(drawn_size) over (order by c rows between unbounded preceding
            and current row) - drawn_size) as pairs_left
    from candidates
),
-- the last condition takes the remainder, so the pair count is exactly the target
sized as (
    select c, toUInt32(if(pairs_left - drawn_size < {size_min:UInt32}, pairs_left, drawn_size)) as m
    from running
    where pairs_left >= {size_min:UInt32}
),
shaped as (
    select
        c,
        m,
        -- the first conditions cover every case (binary, 50/50, 3 and 4 outcomes, partial payouts,
        -- unresolved), so even the tiny scale has them all
        toUInt8(multiIf(c < 6, [2, 2, 3, 4, 4, 2][c + 1],
                        cityHash64({seed:UInt64}, 'n', c) % 100 < 70, 2,
                        cityHash64({seed:UInt64}, 'n', c) % 100 < 88, 3, 4)) as n,
        toUInt32(1 + cityHash64({seed:UInt64}, 'makers', c) % {max_makers:UInt32}) as kw,
        m - kw as traders,
        -- where each tier's traders end among the condition's traders, and how many it has
        arrayMap(p -> toUInt32(intDiv(traders * p, 100)), {tier_cum_percent:Array(UInt32)}) as tier_ends,
        arrayPopFront(arrayDifference(arrayPushFront(tier_ends, 0))) as tier_counts,
        toInt64(1704067200000 + cityHash64({seed:UInt64}, 'start', c) % (515 * 86400000)) as start_ms,
        toInt64(86400000 * (1 + cityHash64({seed:UInt64}, 'days', c) % 60)
            + cityHash64({seed:UInt64}, 'ms', c) % 86400000) as len_ms,
        toUInt8(if(c < 6, c < 5, cityHash64({seed:UInt64}, 'resolved', c) % 100 >= 12)) as resolved,
        cityHash64({seed:UInt64}, 'winner', c) % n as winner,
        if(c < 6, [50, 5, 50, 15, 5, 50][c + 1], cityHash64({seed:UInt64}, 'payout', c) % 100) as payout_kind,
        arrayMap(i -> toUInt32(multiIf(
            n = 2 and payout_kind < 10, 1,
            n = 4 and payout_kind < 10,
                if(i = winner, 2, if(i = (winner + 1) % n or i = (winner + 2) % n, 1, 0)),
            n >= 3 and payout_kind < 25, if(i = winner or i = (winner + 1) % n, 1, 0),
            if(i = winner, 1, 0))), range(n)) as payout,
        start_ms + len_ms + 3600000 + cityHash64({seed:UInt64}, 'resolves', c) % (71 * 3600000) as resolved_ms
    from sized
)
select
    c, m, n, kw, traders, tier_ends, tier_counts, start_ms, len_ms, resolved, payout, resolved_ms,
    sum(kw) over w - kw as whale_offset,
    arrayMap((total, own) -> total - own, sumForEach(tier_counts) over w, tier_counts) as tier_offsets
from shaped
window w as (order by c rows between unbounded preceding and current row)
"""

ACTIONS = f"""
create table $s.actions engine = MergeTree order by (c, t, a) as
with
trader_slots as (
    select
        c, n, kw, traders, start_ms, len_ms, t,
        toUInt32(least(200, 1 + floor(-log((cityHash64({{seed:UInt64}}, 'activity', c, t) % 1000000 + 1)
            / 1000001) * {{mean_extra_actions:Float64}}))) as action_count
    from $s.conditions
    array join range(traders) as t
),
drawn as (
    select c, n, kw, traders, start_ms, len_ms, t, a, cityHash64({{seed:UInt64}}, 'action', c, t, a) as h
    from trader_slots
    array join range(action_count) as a
)
select
    c, n, kw, traders, t, a,
    -- condition 5, unresolved at every scale, opens with a fill its buyer partly resells, so the
    -- open markets always carry a sell of a bought position (the average-cost lens realizes it)
    (c = 5 and t = 0 and a = 0) as open_resale,
    toUInt8(multiIf(open_resale, {FILL}, h % 100 < 45, {FILL}, h % 100 < 75, {MINT}, {SPLIT_SELL})) as kind,
    toUInt8(cityHash64(h, 1) % n) as outcome,
    toInt64(pow(10, 2 + 3.3 * ((cityHash64(h, 2) % 1000000) / 1000000))) as drawn_cents,
    -- a third of the sizes are whole shares
    if(cityHash64(h, 3) % 3 = 0, greatest(100, intDiv(drawn_cents, 100) * 100), drawn_cents) as shares_cents,
    toInt64(1 + cityHash64(h, 4) % 99) as price_cents,
    toUInt32(cityHash64(h, 5) % kw) as maker,
    toUInt32((t + 1 + cityHash64(h, 6) % (traders - 1)) % traders) as partner,
    toUInt8(open_resale or cityHash64(h, 7) % 100 < multiIf(kind = {FILL}, 40, kind = {MINT}, 30, 50))
        as follow_up,
    -- a partial resale for the pinned one (10-90%), 10-100% otherwise
    greatest(1, intDiv(shares_cents * (10 + cityHash64(h, 8) % if(open_resale, 81, 91)), 100))
        as follow_cents,
    toInt64(1 + cityHash64(h, 9) % 99) as follow_price_cents,
    toUInt32(cityHash64(h, 10) % (traders - n + 1)) as group_offset,
    {_prices(11)} as mint_prices,
    {_prices(12)} as merge_prices,
    toInt64(n * (intDiv(shares_cents, n) + 1) + n * 100 * (cityHash64(h, 14) % 20)) as split_cents,
    start_ms + intDiv(len_ms * (20 + cityHash64(h, 15) % 580), 1000) as open_ms,
    start_ms + intDiv(len_ms * (620 + cityHash64(h, 16) % 350), 1000) as close_ms
from drawn
"""

LEGS = """
create table $s.legs (
    c UInt32, slot UInt32, outcome UInt8, kind UInt8, shares Int64, usd Int64, ms Int64, ev UInt64, leg UInt8
) engine = MergeTree order by (c, slot, ev, leg)
"""

# Shares are written in micro-units (cents * 10000); cash in micro-USD (cents * cents * 100).
TRADER_LEGS = [
    # fill: the trader buys from a market maker
    f"""
    insert into $s.legs
    select c, if(k = 0, kw + t, maker), outcome, if(k = 0, {BUY}, {SELL}),
           shares_cents * 10000, shares_cents * price_cents * 100, open_ms,
           {event_key('c', 'kw + t', 'a', 1)}, k
    from $s.actions array join [0, 1] as k
    where kind = {FILL}
    """,
    # ... and resells part of it to another trader
    f"""
    insert into $s.legs
    select c, kw + if(k = 0, t, partner), outcome, if(k = 0, {SELL}, {BUY}),
           follow_cents * 10000, follow_cents * follow_price_cents * 100, close_ms,
           {event_key('c', 'kw + t', 'a', 2)}, k
    from $s.actions array join [0, 1] as k
    where kind = {FILL} and follow_up
    """,
    # mint match: n traders buy complementary outcomes, creating sets
    f"""
    insert into $s.legs
    select c, kw + if(k = 0, t, (t + group_offset + k) % traders), toUInt8((outcome + k) % n), {BUY},
           shares_cents * 10000, shares_cents * mint_prices[(outcome + k) % n + 1] * 100, open_ms,
           {event_key('c', 'kw + t', 'a', 1)}, k
    from $s.actions array join range(n) as k
    where kind = {MINT}
    """,
    # ... and the same group later sells part back as a merge match
    f"""
    insert into $s.legs
    select c, kw + if(k = 0, t, (t + group_offset + k) % traders), toUInt8((outcome + k) % n), {SELL},
           follow_cents * 10000, follow_cents * merge_prices[(outcome + k) % n + 1] * 100, close_ms,
           {event_key('c', 'kw + t', 'a', 2)}, k
    from $s.actions array join range(n) as k
    where kind = {MINT} and follow_up
    """,
    # split: a SPLIT just before the sale
    f"""
    insert into $s.legs
    select c, kw + t, toUInt8(k), {SPLIT}, split_cents * 10000, intDiv(split_cents * 10000, n),
           open_ms - 1000, {event_key('c', 'kw + t', 'a', 3)}, k
    from $s.actions array join range(n) as k
    where kind = {SPLIT_SELL}
    """,
    # ... selling one outcome to another trader
    f"""
    insert into $s.legs
    select c, kw + if(k = 0, t, partner), outcome, if(k = 0, {SELL}, {BUY}),
           shares_cents * 10000, shares_cents * price_cents * 100, open_ms,
           {event_key('c', 'kw + t', 'a', 1)}, k
    from $s.actions array join [0, 1] as k
    where kind = {SPLIT_SELL}
    """,
    # ... and later merging the complete sets left (a multiple of n cents, so s/n stays exact)
    f"""
    insert into $s.legs
    select c, kw + t, toUInt8(k), {MERGE}, merged * 10000, intDiv(merged * 10000, n), close_ms,
           {event_key('c', 'kw + t', 'a', 4)}, k
    from $s.actions array join range(n) as k
    where kind = {SPLIT_SELL} and follow_up and (n * intDiv(split_cents - shares_cents, n) as merged) > 0
    """,
]

# Market makers split enough inventory to cover what they sold, and some merge half the sets left.
MAKERS = f"""
create table $s.makers engine = MergeTree order by (c, slot) as
with
sold_per_outcome as (
    select c, slot, outcome, intDiv(sum(shares), 10000) as sold_cents
    from $s.legs
    where kind = {SELL}
    group by c, slot, outcome
),
sold as (
    select c, slot, max(sold_cents) as max_sold_cents from sold_per_outcome group by c, slot
),
maker_slots as (
    select c, n, start_ms, len_ms, slot
    from $s.conditions
    array join range(kw) as slot
)
select
    m.c as c, m.n as n, m.slot as slot, m.start_ms as start_ms, m.len_ms as len_ms,
    toInt64(m.n * (intDiv(s.max_sold_cents + m.n - 1, m.n)
        + 1000 * (1 + cityHash64({{seed:UInt64}}, 'inventory', m.c, m.slot) % 100))) as split_cents,
    toInt64(m.n * intDiv(intDiv(split_cents - s.max_sold_cents, 2), m.n)) as merge_cents,
    toUInt8(cityHash64({{seed:UInt64}}, 'maker merges', m.c, m.slot) % 100 < 60) as merges
from maker_slots as m
left join sold as s on m.c = s.c and m.slot = s.slot
"""

MAKER_LEGS = [
    f"""
    insert into $s.legs
    select c, slot, toUInt8(k), {SPLIT}, split_cents * 10000, intDiv(split_cents * 10000, n),
           start_ms + intDiv(len_ms * (cityHash64({{seed:UInt64}}, 'maker split', c, slot) % 15), 1000),
           {event_key('c', 'slot', '0', 13)}, k
    from $s.makers array join range(n) as k
    """,
    f"""
    insert into $s.legs
    select c, slot, toUInt8(k), {MERGE}, merge_cents * 10000, intDiv(merge_cents * 10000, n),
           start_ms + intDiv(len_ms * (980 + cityHash64({{seed:UInt64}}, 'maker merge', c, slot) % 15), 1000),
           {event_key('c', 'slot', '0', 14)}, k
    from $s.makers array join range(n) as k
    where merges and merge_cents > 0
    """,
]

# After resolution most holders redeem everything they hold (one transaction, a leg per outcome);
# some also burn their worthless tokens. usd = q * num_i / sum(num) is exact: q is a multiple of 10000.
REDEEMS = f"""
insert into $s.legs
with held as (
    select c, slot, outcome, sum(if(kind in ({BUY}, {SPLIT}), shares, -shares)) as held_micro
    from $s.legs
    group by c, slot, outcome
)
select
    h.c, h.slot, h.outcome, {REDEEM}, h.held_micro,
    intDiv(h.held_micro * k.payout[h.outcome + 1], arraySum(k.payout)),
    k.resolved_ms + 600000 + cityHash64({{seed:UInt64}}, 'redeem time', h.c, h.slot) % (30 * 86400000),
    {event_key('h.c', 'h.slot', '0', 15)}, h.outcome
from held as h
inner join $s.conditions as k on h.c = k.c
where k.resolved and h.held_micro > 0
  and cityHash64({{seed:UInt64}}, 'redeems', h.c, h.slot) % 100 < 85
  and (k.payout[h.outcome + 1] > 0 or cityHash64({{seed:UInt64}}, 'burns', h.c, h.slot) % 100 < 30)
"""

_CONDITION_ID = "concat('0x', " + hex_digits("{seed:UInt64}, 'condition', c", 64) + ")"
_MARKET_ID = "toString(200000 + c)"
_WALLET_ID = """if(l.slot < k.kw, (k.whale_offset + l.slot) % {whales:UInt32},
        {tier_bases:Array(UInt32)}[arrayFirstIndex(e -> l.slot - k.kw < e, k.tier_ends) as tier]
        + (k.tier_offsets[tier] + l.slot - k.kw - (k.tier_ends[tier] - k.tier_counts[tier]))
          % {tier_sizes:Array(UInt32)}[tier])"""
_WALLET = "concat('0x', " + hex_digits("{seed:UInt64}, 'wallet', " + _WALLET_ID, 40) + ")"
_DECIMAL = "toDecimal128({micro}, 6) / 1000000"


def _decimal(micro: str) -> str:
    return _DECIMAL.format(micro=micro)


TRADES = f"""
insert into $s.trades_raw
select
    concat('tr-', toString(l.ev), '-', toString(l.leg)),
    concat('0x', {hex_digits('{seed:UInt64}, ' + "'tx', l.ev", 64)}),
    fromUnixTimestamp64Milli(l.ms, 'UTC'),
    {_WALLET},
    toString(200000 + l.c),
    concat('0x', {hex_digits("{seed:UInt64}, 'condition', l.c", 64)}),
    l.outcome,
    l.kind,
    {_decimal('l.shares')},
    {_decimal('l.usd')},
    -- about 30% of the legs pay a fee of 10-200 bps of their cash
    {_decimal(
        "if(cityHash64({seed:UInt64}, 'fee', l.ev, l.leg) % 100 < 30, "
        "intDiv(l.usd * (10 + cityHash64({seed:UInt64}, 'bps', l.ev, l.leg) % 191), 10000), 0)"
    )}
from $s.legs as l
inner join $s.conditions as k on l.c = k.c
where l.kind in ({BUY}, {SELL})
"""

CTF_EVENTS = f"""
insert into $s.ctf_events
select
    concat('ev-', toString(l.ev), '-', toString(l.leg)),
    fromUnixTimestamp64Milli(l.ms, 'UTC'),
    {_WALLET},
    toString(200000 + l.c),
    concat('0x', {hex_digits("{seed:UInt64}, 'condition', l.c", 64)}),
    l.outcome,
    l.kind - 10,
    {_decimal('l.shares')},
    {_decimal('l.usd')}
from $s.legs as l
inner join $s.conditions as k on l.c = k.c
where l.kind in ({SPLIT}, {MERGE}, {REDEEM})
"""

MARKETS_DIM = f"""
insert into $s.markets_dim
select
    {_MARKET_ID},
    {_CONDITION_ID},
    if(n = 2, concat('Will synthetic event ', toString(c), ' happen?'),
              concat('Which of ', toString(n), ' outcomes wins synthetic contest ', toString(c), '?')),
    ['Politics', 'Sports', 'Crypto', 'Economics', 'Culture', 'Science']
        [1 + cityHash64({{seed:UInt64}}, 'category', c) % 6],
    n,
    if(n = 2, ['Yes', 'No'], arraySlice(['A', 'B', 'C', 'D'], 1, n)),
    fromUnixTimestamp64Milli(start_ms + len_ms, 'UTC')
from $s.conditions
"""

RESOLUTIONS = f"""
insert into $s.resolutions
select {_CONDITION_ID}, payout, fromUnixTimestamp64Milli(resolved_ms, 'UTC')
from $s.conditions
where resolved
"""


SUMMARY = """
with flows as (
    select wallet_address, condition_id from $t.trades_raw
    union all
    select wallet_address, condition_id from $t.ctf_events
)
select
    (select uniqExact(wallet_address) from flows),
    (select uniqExact(wallet_address, condition_id) from flows),
    (select count() from $t.markets_dim),
    (select count() from $t.resolutions),
    (select count() from $t.trades_raw),
    (select count() from $t.ctf_events)
"""
