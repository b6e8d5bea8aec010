"""Step D as dbt models on a real embedded warehouse: unit tests, batch ranges, quarantine, the
guards against partial rebuilds, source freshness and the layering of the project.

The data is small and hand-made; every expected number below is worked out by hand from
docs/domain.md (sections 3, 6 and 7), not copied from output. Wallets are written in mixed case on
purpose: hex ids are lower-cased when staged, so "A" and "a" are one wallet.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, embedded, query, run_enrich

MY_MODELS = ("+pnl_positions", "+quarantine")
D = "2024-01-01 00:00:00"

MARKETS = [
    # market_id, condition_id, outcome_count
    ("m_yes", "0xyes", 2), ("m_half", "0xhalf", 2), ("m_multi", "0xmulti", 3), ("m_open", "0xopen", 2),
    ("m_vanish", "0xvanish", 2), ("m_badlen", "0xbadlen", 2), ("m_zero", "0xzero", 2),
    ("m_dup", "0xdup", 2), ("m_late", "0xlate", 2),
    ("m_big", "0xbig", 2),
    ("m_twin1", "0xtwin", 2), ("m_twin2", "0xtwin", 2),  # one condition, two markets: both quarantined
    ("m_yes", "0xyes", 2),                           # identical copy: collapsed
    ("", "0xbad", 2),                                # empty market_id
    ("m_conf", "0xbad", 2), ("m_conf", "0xbad", 3),  # same id, different content: both quarantined
]
RESOLUTIONS = [
    ("0xyes", [1, 0], "2024-06-01 00:00:00"), ("0xhalf", [1, 1], "2024-06-01 00:00:00"),
    ("0xmulti", [2, 1, 0], "2024-06-01 00:00:00"), ("0xvanish", [0, 1], "2024-06-01 00:00:00"),
    ("0xlate", [1, 0], "2024-02-01 00:00:00"), ("0xbig", [1, 0], "2024-06-01 00:00:00"),
    ("0xyes", [1, 0], "2024-06-01 00:00:00"),        # identical copy: collapsed
    ("0xbadlen", [1, 0, 0], "2024-06-01 00:00:00"),  # length 3 for a binary market
    ("0xzero", [0, 0], "2024-06-01 00:00:00"),       # sum 0
    ("0xdup", [1, 0], "2024-06-01 00:00:00"), ("0xdup", [0, 1], "2024-06-01 00:00:00"),
    ("0xghost", [1, 0], "2024-06-01 00:00:00"),      # no flows
]
INJECTION_ID = "x' OR 1=1 --"
DROP_ID = "'); drop table pnl; --"


def _trade(trade_id, wallet, market, condition, outcome, side, shares, usd, fee="0", time=D):
    return [trade_id, "0xtx", time, wallet, market, condition, outcome, side, shares, usd, fee]


def _worked_example(prefix: str, market: str, condition: str) -> list[list]:
    """The contract's worked example: A, B, M, C trading one binary condition."""
    return [
        _trade(f"{prefix}1", "A", market, condition, 0, "BUY", "100", "40"),
        _trade(f"{prefix}2", "B", market, condition, 1, "BUY", "100", "60"),
        _trade(f"{prefix}3", "M", market, condition, 0, "SELL", "100", "60"),
        # the same wallet and condition in checksummed case: one pair with the rows above
        _trade(f"{prefix}4", "a", market, condition.upper().replace("0X", "0x"), 0, "BUY", "100", "60"),
        _trade(f"{prefix}5", "A", market, condition, 0, "SELL", "50", "35"),
        _trade(f"{prefix}6", "C", market, condition, 0, "BUY", "50", "35"),
    ]


VALID_TRADES = [
    *_worked_example("y", "m_yes", "0xyes"),
    *_worked_example("h", "m_half", "0xhalf"),
    _trade("mu1", "W", "m_multi", "0xmulti", 0, "BUY", "10", "5", "0.1"),
    _trade("mu2", "V", "m_multi", "0xmulti", 0, "SELL", "10", "5", "0.1"),
    _trade("op1", "W", "m_open", "0xopen", 1, "BUY", "10", "3"),
    _trade(INJECTION_ID, "W", "m_open", "0xopen", 0, "BUY", "1", "0.5"),
    _trade("va1", "W", "m_vanish", "0xvanish", 1, "BUY", "10", "4"),
    _trade("va2", "V", "m_vanish", "0xvanish", 1, "SELL", "10", "4"),
    _trade("bl1", "W", "m_badlen", "0xbadlen", 0, "BUY", "10", "5"),
    _trade("z1", "W", "m_zero", "0xzero", 0, "BUY", "10", "5"),
    _trade("d1", "W", "m_dup", "0xdup", 0, "BUY", "10", "5"),
    _trade("la1", "W", "m_late", "0xlate", 0, "BUY", "10", "5", time="2024-01-15 00:00:00"),
    # no market and no resolution: n is unknown, so outcome 7 cannot be checked
    _trade("nm1", "W", "m_nowhere", "0xnomarket", 7, "BUY", "10", "5"),
    # exactly at the magnitude bound 10^15: valid, and a P&L of +-10^15 on [1, 0]
    _trade("bg1", "W", "m_big", "0xbig", 0, "BUY", "1000000000000000", "0"),
    _trade("bg2", "V", "m_big", "0xbig", 0, "SELL", "1000000000000000", "0"),
]
IDENTICAL = _trade("same", "W", "m_open", "0xopen", 0, "BUY", "2", "1")
# trade_id -> the reason staging must give it
BAD_TRADES = {
    "": (_trade("", "W", "m_open", "0xopen", 0, "BUY", "1", "0.5"), "empty trade_id"),
    "b_wallet": (_trade("b_wallet", "", "m_open", "0xopen", 0, "BUY", "1", "0.5"), "empty wallet_address"),
    "b_market": (_trade("b_market", "W", "", "0xopen", 0, "BUY", "1", "0.5"), "empty market_id"),
    "b_cond": (_trade("b_cond", "W", "m_nowhere", "", 0, "BUY", "1", "0.5"), "empty condition_id"),
    "b_shares": (_trade("b_shares", "W", "m_open", "0xopen", 0, "BUY", "0", "0"), "shares <= 0"),
    "b_price": (_trade("b_price", "W", "m_open", "0xopen", 0, "BUY", "10", "15"), "price outside [0, 1]"),
    "b_negusd": (_trade("b_negusd", "W", "m_open", "0xopen", 0, "SELL", "10", "-1"), "price outside [0, 1]"),
    "b_fee": (_trade("b_fee", "W", "m_open", "0xopen", 0, "BUY", "10", "5", "-0.1"), "fee_usd < 0"),
    "b_outcome": (_trade("b_outcome", "W", "m_open", "0xopen", 5, "BUY", "10", "5"),
                  "outcome_index >= outcome_count"),
    "la2": (_trade("la2", "V", "m_late", "0xlate", 0, "BUY", "1", "0.5", time="2024-03-01 00:00:00"),
            "fill after the condition resolved"),
    "b_mismatch": (_trade("b_mismatch", "W", "m_yes", "0xopen", 0, "BUY", "1", "0.5"),
                   "market_id belongs to another condition"),
    DROP_ID: (_trade(DROP_ID, "W", "m_open", "0xopen", 0, "BUY", "0", "0"), "shares <= 0"),
    # just above the bound
    "bg3": (_trade("bg3", "W", "m_big", "0xbig", 0, "BUY", "1000000000000000.000001", "0"),
            "shares above 10^15"),
    "bg4": (_trade("bg4", "W", "m_big", "0xbig", 0, "BUY", "10", "5", "1000000000000000.000001"),
            "fee_usd above 10^15"),
    "bg5": (_trade("bg5", "W", "m_big", "0xbig", 0, "BUY", "2000000000000000", "1000000000000000.000001"),
            "usd_value above 10^15"),
    # issue 11: two fills of 9e25 shares at price 0 wrapped the buyer's Decimal128 sum around
    "bg6": (_trade("bg6", "U", "m_big", "0xbig", 0, "BUY", "90000000000000000000000000", "0"),
            "shares above 10^15"),
    "bg7": (_trade("bg7", "U", "m_big", "0xbig", 0, "BUY", "90000000000000000000000000", "0"),
            "shares above 10^15"),
    # a market missing from markets_dim naming two conditions: every row of it
    "amb1": (_trade("amb1", "W", "m_ghost", "0xamb1", 0, "BUY", "1", "0.5"),
             "market missing from markets_dim names several conditions"),
    "amb2": (_trade("amb2", "W", "m_ghost", "0xAMB2", 0, "BUY", "1", "0.5"),
             "market missing from markets_dim names several conditions"),
    # one condition under two markets, both missing from markets_dim
    "cm1": (_trade("cm1", "W", "m_c1", "0xcm", 0, "BUY", "1", "0.5"),
            "condition traded under several markets missing from markets_dim"),
    "cm2": (_trade("cm2", "V", "m_c2", "0xcm", 0, "BUY", "1", "0.5"),
            "condition traded under several markets missing from markets_dim"),
    # a condition markets_dim lists under m_yes, traded under an undescribed market
    "cb1": (_trade("cb1", "W", "m_other", "0xYES", 0, "BUY", "1", "0.5"),
            "condition_id belongs to another market"),
}
# two copies of one id with different content, on different conditions (hence batches)
CONFLICTING = [
    _trade("b_conflict", "W", "m_open", "0xopen", 0, "BUY", "10", "3"),
    _trade("b_conflict", "W", "m_half", "0xhalf", 0, "BUY", "10", "4"),
]
TRADES = [*VALID_TRADES, IDENTICAL, IDENTICAL, IDENTICAL, *(row for row, _ in BAD_TRADES.values()),
          *CONFLICTING]

AFTER = "2024-07-01 00:00:00"  # after every resolution at 2024-06-01
VALID_CTF_EVENTS = [
    ["ys1", D, "M", "m_yes", "0xyes", 0, "SPLIT", "100", "50"],
    ["ys2", D, "M", "m_yes", "0xyes", 1, "SPLIT", "100", "50"],
    ["hs1", D, "M", "m_half", "0xhalf", 0, "SPLIT", "100", "50"],
    ["hs2", D, "M", "m_half", "0xhalf", 1, "SPLIT", "100", "50"],
    # a REDEEM after the resolution is valid: A cashes its 150 winning YES tokens
    ["yr1", AFTER, "A", "m_yes", "0xyes", 0, "REDEEM", "150", "150"],
    # at resolved_at exactly, p_1 = 0.5: 100 * 0.5 = 50
    ["hr1", "2024-06-01 00:00:00", "b", "m_half", "0xhalf", 1, "REDEEM", "100", "50"],
    # SPLIT and MERGE are valid at any time: X splits 1 USD after 0xlate resolved, and splits 10
    # sets of 0xhalf before and merges them back after it resolved (flat, P&L 0)
    ["ls1", "2024-03-01 00:00:00", "X", "m_late", "0xlate", 0, "SPLIT", "1", "0.5"],
    ["xs1", D, "X", "m_half", "0xhalf", 0, "SPLIT", "10", "5"],
    ["xs2", D, "X", "m_half", "0xhalf", 1, "SPLIT", "10", "5"],
    ["xm1", AFTER, "X", "m_half", "0xhalf", 0, "MERGE", "10", "5"],
    ["xm2", AFTER, "X", "m_half", "0xhalf", 1, "MERGE", "10", "5"],
]
# event_id -> (row, the reason staging or validation must give it)
BAD_CTF_EVENTS = {
    "ng1": (["ng1", D, "X", "m_open", "0xopen", 0, "MERGE", "-5", "2.5"], "shares <= 0"),
    "rb1": (["rb1", AFTER, "C", "m_yes", "0xyes", 0, "REDEEM", "50", "49"],
            "redeem usd_value differs from shares * p_i"),
    "rb2": (["rb2", AFTER, "W", "m_open", "0xopen", 0, "REDEEM", "1", "0.5"],
            "redeem on an unresolved condition"),
    "rb3": (["rb3", "2024-05-01 00:00:00", "C", "m_yes", "0xyes", 0, "REDEEM", "10", "10"],
            "redeem before the condition resolved"),
}
CTF_EVENTS = [*VALID_CTF_EVENTS, *(row for row, _ in BAD_CTF_EVENTS.values())]

# (wallet, condition) -> realized P&L by hand; None = unresolved. Wallets as staged (lower case).
EXPECTED_PAIRS = {(wallet.lower(), condition): pnl for (wallet, condition), pnl in {
    ("A", "0xyes"): Decimal(85), ("B", "0xyes"): Decimal(-60), ("M", "0xyes"): Decimal(-40),
    ("C", "0xyes"): Decimal(15),
    ("A", "0xhalf"): Decimal(10), ("B", "0xhalf"): Decimal(-10), ("M", "0xhalf"): Decimal(10),
    ("C", "0xhalf"): Decimal(-10),
    # p_0 = 2/3: 10 * 2/3 - 5 - 0.1 and -10 * 2/3 + 5 - 0.1, rounded to 12 decimals
    ("W", "0xmulti"): Decimal("1.566666666667"), ("V", "0xmulti"): Decimal("-1.766666666667"),
    ("W", "0xvanish"): Decimal(6), ("V", "0xvanish"): Decimal(-6),
    ("W", "0xlate"): Decimal(5),
    ("X", "0xlate"): Decimal("0.5"),                 # 1 * p_0 - 0.5
    ("X", "0xhalf"): Decimal(0),
    ("W", "0xbig"): Decimal(10**15), ("V", "0xbig"): Decimal(-(10**15)),
    ("W", "0xopen"): None, ("W", "0xbadlen"): None, ("W", "0xzero"): None, ("W", "0xdup"): None,
    ("W", "0xnomarket"): None,
}.items()}


def dbt(home: Path, *args: str, check: bool = True, project_dir: Path = PROJECT_DIR, artifacts: str = ""):
    return run_enrich(
        home, "dbt", *args,
        "--project-dir", str(project_dir), "--profiles-dir", str(PROJECT_DIR / "profiles"),
        # one artifacts folder per project copy, so partial parsing never mixes them up
        "--target-path", str(home / "target" / (artifacts or project_dir.name)), check=check,
    )


def build(home: Path, *selection: str, lo: int | None = None, hi: int | None = None, command: str = "build",
          check: bool = True):
    args = [command, "--select", *selection, "--exclude", "test_type:singular"]
    if lo is not None:
        args += ["--vars", json.dumps({"batch_lo": lo, "batch_hi": hi})]
    return dbt(home, *args, check=check)


def command(home: Path, sql_text: str) -> None:
    with embedded(home) as client:
        client.command(sql_text)


DECIMALS = {"shares", "usd_value", "fee_usd"}
TIMES = {"block_time", "resolved_at", "end_date"}


def load(home: Path, trades=TRADES, ctf_events=CTF_EVENTS) -> None:
    """Replace the source tables' rows (bound values through client.insert, never SQL text)."""
    spec = {
        "polymarket.trades_raw": (["trade_id", "tx_hash", "block_time", "wallet_address", "market_id",
                                   "condition_id", "outcome_index", "side", "shares", "usd_value", "fee_usd"],
                                  trades),
        "polymarket.ctf_events": (["event_id", "block_time", "wallet_address", "market_id", "condition_id",
                                   "outcome_index", "event_type", "shares", "usd_value"], ctf_events),
        "polymarket.markets_dim": (
            ["market_id", "condition_id", "question", "category", "outcome_count", "outcome_labels",
             "end_date"],
            [[m, c, "q", "cat", n, [f"o{i}" for i in range(n)], "2024-12-31 00:00:00"]
             for m, c, n in MARKETS]),
        "polymarket.resolutions": (["condition_id", "payout_numerators", "resolved_at"],
                                   [list(r) for r in RESOLUTIONS]),
    }
    with embedded(home) as client:
        for table, (columns, rows) in spec.items():
            client.command("truncate table " + table)
            typed = [[Decimal(v) if c in DECIMALS else
                      datetime.fromisoformat(v).replace(tzinfo=UTC) if c in TIMES else v
                      for c, v in zip(columns, row, strict=True)] for row in rows]
            if typed:
                client.insert(table, typed, column_names=columns, database="polymarket")


def snapshot(home: Path, table: str, where: str = "1 = 1", parameters: dict | None = None) -> list[tuple]:
    """Every row of a Step D table but computed_at, sorted, batch_key last: equal snapshots mean
    equal tables."""
    key = "flow_id" if table == "pnl" else "wallet_address, condition_id"
    return query(home, f"select * except (computed_at, batch_key), batch_key from polymarket.{table} "
                       f"where {where} order by {key}", parameters)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A warehouse with the hand-made sources and a single-shot build of Step D."""
    home = tmp_path_factory.mktemp("models_d")
    dbt(home, "run-operation", "create_sources")
    load(home)
    build(home, *MY_MODELS)
    return home


def test_single_shot_pnl_matches_the_hand_computed_pairs(home: Path) -> None:
    rows = query(home, "select wallet_address, condition_id, toString(realized_pnl_usd), is_resolved "
                       "from polymarket.pnl_positions")
    got = {(w, c): (None if p is None else Decimal(p), r) for w, c, p, r in rows}
    assert {k: v[0] for k, v in got.items()} == EXPECTED_PAIRS
    assert all(r == (p is not None) for p, r in got.values())
    # trade P&L decomposes the pair: sum of pnl per pair equals pnl_positions exactly
    mismatched = query(home, """
        select count() from polymarket.pnl_positions p
        inner join (select wallet_address, condition_id, sum(realized_pnl_usd) as s
                    from polymarket.pnl group by wallet_address, condition_id) f
        using (wallet_address, condition_id)
        where p.realized_pnl_usd != f.s""")
    assert mismatched == [(0,)]
    arrays = dict(((w, c), a) for w, c, a in query(
        home, "select wallet_address, condition_id, arrayMap(x -> toString(x), net_shares) "
              "from polymarket.pnl_positions"))
    assert arrays[("a", "0xyes")] == ["0", "0"]          # bought 200, sold 50, redeemed 150
    assert arrays[("m", "0xhalf")] == ["0", "100"]
    assert arrays[("b", "0xhalf")] == ["0", "0"]          # bought 100 NO, redeemed them
    assert arrays[("w", "0xmulti")] == ["10", "0", "0"]   # length n = 3
    assert arrays[("w", "0xnomarket")] == ["0"] * 7 + ["10"]


def test_quarantine_reasons_and_every_row_accounted_for(home: Path) -> None:
    rows = query(home, "select source_table, row_id, reason, action, raw_row from polymarket.quarantine")
    trades = {(r[1], r[2]) for r in rows if r[0] == "trades_raw" and r[3] == "quarantined"}
    for trade_id, (_, reason) in BAD_TRADES.items():
        assert any(i == trade_id and reason in why for i, why in trades), (trade_id, reason, trades)
    conflict = [r for r in rows if r[1] == "b_conflict"]
    assert len(conflict) == 2 and all("duplicate trade_id with different content" in r[2] for r in conflict)
    assert {json.loads(r[4])["condition_id"] for r in conflict} == {"0xopen", "0xhalf"}
    assert [r[1] for r in rows if r[0] == "trades_raw" and r[3] == "collapsed"] == ["same", "same"]

    ctf = {r[1]: r[2] for r in rows if r[0] == "ctf_events"}
    assert ctf == {event_id: reason for event_id, (_, reason) in BAD_CTF_EVENTS.items()}
    resolutions = sorted((r[1], r[2], r[3]) for r in rows if r[0] == "resolutions")
    assert resolutions == [
        ("0xbadlen", "payout vector length differs from outcome_count", "quarantined"),
        ("0xdup", "duplicate condition_id with different content", "quarantined"),
        ("0xdup", "duplicate condition_id with different content", "quarantined"),
        ("0xghost", "resolution of an unknown condition", "quarantined"),
        ("0xyes", "identical copy of another row with the same id", "collapsed"),
        ("0xzero", "payout vector sums to 0", "quarantined"),
    ]
    markets = sorted((r[1], r[3]) for r in rows if r[0] == "markets_dim")
    assert markets == [("", "quarantined"), ("m_conf", "quarantined"), ("m_conf", "quarantined"),
                       ("m_twin1", "quarantined"), ("m_twin2", "quarantined"), ("m_yes", "collapsed")]
    assert {r[2] for r in rows if r[1].startswith("m_twin")} == {"condition_id listed under several markets"}

    # rows_in = used + quarantined + collapsed, with "used" read from the P&L itself
    used = dict(query(home, "select if(flow_type in ('BUY', 'SELL'), 'trades_raw', 'ctf_events'), count() "
                            "from polymarket.pnl group by 1"))
    for table, rows_in, expected_used, expected_quarantined, expected_collapsed in [
        ("trades_raw", len(TRADES), len(VALID_TRADES) + 1, len(BAD_TRADES) + 2, 2),
        ("ctf_events", len(CTF_EVENTS), len(VALID_CTF_EVENTS), len(BAD_CTF_EVENTS), 0),
    ]:
        quarantined = sum(1 for r in rows if r[0] == table and r[3] == "quarantined")
        collapsed = sum(1 for r in rows if r[0] == table and r[3] == "collapsed")
        assert (used[table], quarantined, collapsed) == (
            expected_used, expected_quarantined, expected_collapsed)
        assert rows_in == used[table] + quarantined + collapsed


def test_hostile_ids_are_just_data(home: Path) -> None:
    assert query(home, "select flow_id, wallet_address from polymarket.pnl where flow_id = {id:String}",
                 {"id": INJECTION_ID}) == [(INJECTION_ID, "w")]
    assert query(home, "select count() from polymarket.quarantine where row_id = {id:String}",
                 {"id": DROP_ID}) == [(1,)]
    assert query(home, "select count() > 0 from polymarket.pnl") == [(1,)]


def test_quarantined_resolution_leaves_its_condition_unresolved(home: Path) -> None:
    rows = query(home, "select condition_id, is_resolved, realized_pnl_usd from polymarket.pnl "
                       "where condition_id in ('0xbadlen', '0xzero', '0xdup') order by condition_id")
    assert rows == [("0xbadlen", 0, None), ("0xdup", 0, None), ("0xzero", 0, None)]


def test_magnitudes_at_the_bound_are_used_and_above_it_quarantined(home: Path) -> None:
    used = query(home, "select flow_id, toString(delta_shares), toString(realized_pnl_usd) "
                       "from polymarket.pnl where condition_id = '0xbig' order by flow_id")
    assert used == [("bg1", "1000000000000000", "1000000000000000"),
                    ("bg2", "-1000000000000000", "-1000000000000000")]
    # the 9e25-share fills that once wrapped a Decimal128 sum never reach a sum: no row for wallet u
    assert query(home, "select count() from polymarket.pnl_positions where wallet_address = 'u'") == [(0,)]


def test_checked_sums_fail_loudly_where_a_plain_sum_wraps(home: Path) -> None:
    values = ("select toDecimal128('90000000000000000000000000', 12) as x "
              "union all select toDecimal128('90000000000000000000000000', 12)")
    # the hazard: ClickHouse's Decimal128 sum of 9e25 + 9e25 wraps to a negative number
    plain = dbt(home, "show", "--inline", f"select toString(sum(x)) as s from ({values})", "--output", "json")
    assert '"s": "-' in plain.stdout, plain.stdout
    checked = dbt(home, "show", "--inline", f"select {{{{ checked_sum('x', 12) }}}} as s from ({values})",
                  check=False)
    assert checked.returncode != 0 and "Decimal convert overflow" in checked.stdout + checked.stderr


def test_full_refresh_with_a_batch_range_is_refused_and_changes_nothing(home: Path) -> None:
    before = query(home, "select * from polymarket.pnl order by flow_id")
    proc = dbt(home, "run", "--select", "pnl", "--full-refresh", "--vars", "{batch_lo: 0, batch_hi: 31}",
               check=False)
    assert proc.returncode != 0
    assert "--full-refresh with vars batch_lo/batch_hi" in proc.stdout
    assert "dbt run --select pnl --full-refresh` (no vars)" in proc.stdout
    assert query(home, "select * from polymarket.pnl order by flow_id") == before  # computed_at too


def test_empty_and_a_changed_batch_partitions_are_refused(home: Path) -> None:
    before = query(home, "select * from polymarket.pnl_positions order by wallet_address, condition_id")
    empty = dbt(home, "run", "--select", "pnl_positions", "--empty", check=False)
    assert empty.returncode != 0 and "--empty would empty every partition" in empty.stdout
    changed = dbt(home, "run", "--select", "pnl_positions", "--vars",
                  "{batch_partitions: 64, batch_lo: 0, batch_hi: 3}", check=False)
    assert changed.returncode != 0
    assert "was built with batch_partitions=256, this invocation has 64" in changed.stdout
    after = query(home, "select * from polymarket.pnl_positions order by wallet_address, condition_id")
    assert after == before


def test_full_refresh_alone_rebuilds_every_partition(home: Path) -> None:
    before = {t: snapshot(home, t) for t in ("pnl", "pnl_positions")}
    dbt(home, "run", "--select", "pnl", "pnl_positions", "--full-refresh")
    assert {t: snapshot(home, t) for t in before} == before


def test_source_freshness_uses_the_operators_thresholds(home: Path) -> None:
    # the hand-made rows are from 2024: stale under the default thresholds (24 h warn, 72 h error)
    stale = dbt(home, "source", "freshness", check=False)
    assert stale.returncode != 0
    results = json.loads((home / "target" / PROJECT_DIR.name / "sources.json").read_text())["results"]
    assert {r["unique_id"].rsplit(".", 1)[1]: r["status"] for r in results} == {
        "trades_raw": "error", "ctf_events": "error", "resolutions": "error"}
    newest = {r["unique_id"].rsplit(".", 1)[1]: r["max_loaded_at"][:19] for r in results}
    assert newest == {"trades_raw": "2024-03-01T00:00:00", "ctf_events": "2024-07-01T00:00:00",
                      "resolutions": "2024-06-01T00:00:00"}
    hours = 24 * 365 * 100  # a century: nothing is stale
    fresh = dbt(home, "source", "freshness", "--vars",
                json.dumps({"freshness_warn_after_hours": hours, "freshness_error_after_hours": 2 * hours}))
    assert fresh.returncode == 0


def test_staging_reads_only_sources_and_no_model_fakes_a_dependency(tmp_path: Path) -> None:
    """The layering of docs/domain.md's validation: staging models read their one source table."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["parse", "--project-dir", str(PROJECT_DIR),
                                 "--profiles-dir", str(PROJECT_DIR / "profiles"),
                                 "--target-path", str(tmp_path / "target"), "--quiet"])
    assert result.success, result.exception
    models = [n for n in result.result.nodes.values() if n.resource_type == "model"]
    staging = [m for m in models if m.fqn[1] == "staging"]
    assert len(staging) == 4
    for model in staging:
        assert model.depends_on.nodes and all(n.startswith("source.") for n in model.depends_on.nodes), (
            model.name, model.depends_on.nodes)
        assert len(model.depends_on.nodes) == 1, (model.name, "reads more than its own source")
    # a `-- depends_on:` hint may only name a model the model already reads through another parent
    # (dbt needs it for a ref in a hook); it must never create an undeclared edge, as the fake one on
    # quarantine did. An ordering edge is declared in the model's meta `runs_after`.
    nodes = result.result.nodes

    def ancestors(unique_id: str) -> set[str]:
        parents = set(nodes[unique_id].depends_on.nodes) if unique_id in nodes else set()
        return parents.union(*(ancestors(p) for p in parents)) if parents else parents

    for model in models:
        for hinted in re.findall(r"depends_on:\s*\{\{\s*ref\('(\w+)'\)", model.raw_code):
            hinted_id = f"model.enrich.{hinted}"
            if hinted in model.config.meta.get("runs_after", []):
                continue
            others = [p for p in model.depends_on.nodes if p != hinted_id]
            assert any(hinted_id in ancestors(p) for p in others), (model.name, hinted)
    tags = {m.name: set(m.tags) for m in models}
    assert {n for n, t in tags.items() if "step_d" in t} == {"pnl", "pnl_positions"}
    assert {"wallet_resolution_outcomes", "wallet_accuracy"} <= {n for n, t in tags.items() if "step_e" in t}
    contracted = {m.name for m in models if m.contract.enforced}
    assert {"pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy"} <= contracted




def test_batch_ranges_equal_single_shot_rerun_is_idempotent_and_vacated_partitions_empty(home: Path) -> None:
    single = {t: snapshot(home, t) for t in ("pnl", "pnl_positions")}
    command(home, "drop table polymarket.pnl")
    command(home, "drop table polymarket.pnl_positions")
    # two ranges of the 256 keys: a boundary between ranges, and a range starting above 0
    for lo, hi in [(0, 127), (128, 255)]:
        build(home, "pnl", "pnl_positions", lo=lo, hi=hi, command="run")
    assert {t: snapshot(home, t) for t in single} == single

    keys = dict(query(home, "select condition_id, any(batch_key) from polymarket.pnl group by condition_id"))
    key = keys["0xvanish"]
    assert list(keys.values()).count(key) == 1, "0xvanish must be alone in its partition for this test"
    stamps_sql = "select batch_key, max(computed_at) from polymarket.pnl group by batch_key order by 1"
    stamps = query(home, stamps_sql)

    build(home, "pnl", "pnl_positions", lo=key, hi=key, command="run")
    assert {t: snapshot(home, t) for t in single} == single
    after = query(home, stamps_sql)
    assert [s for s in after if s[0] != key] == [s for s in stamps if s[0] != key], "other batches rewritten"

    # delete 0xvanish's trades at the source, rebuild only its key: its partition is emptied
    load(home, trades=[t for t in TRADES if t[5] != "0xvanish"])
    stale = build(home, "pnl", "pnl_positions", lo=key, hi=key, command="run", check=False)
    assert stale.returncode != 0 and "rebuild it first" in stale.stdout, "stale flows must not be priced"
    # rebuild the flows with artifacts of its own, then `dbt retry` repeats the failed ranged run
    # with its vars: the same key range, rebuilt in place
    dbt(home, "run", "--select", "int_flows_unioned", artifacts="flows")
    retried = dbt(home, "retry")
    assert "PASS=2" in retried.stdout, retried.stdout
    outside = "batch_key != {k:UInt16}"
    for table, rows in single.items():
        assert snapshot(home, table) == snapshot(home, table, outside, {"k": key})
        assert snapshot(home, table, outside, {"k": key}) == [r for r in rows if r[-1] != key]
    assert query(home, "select count() from system.parts where active and database = 'polymarket' "
                       "and table in ('pnl', 'pnl_positions') and partition_id = {p:String}",
                 {"p": str(key)}) == [(0,)]
    assert query(home, "select count() from system.mutations where database = 'polymarket'") == [(0,)]

    # the flows table records the sources it was built from: with nothing changed since, the next
    # build keeps it as it is; a deleted source row (a mutation, no new part) rebuilds it
    assert "KEPT" in dbt(home, "run", "--select", "int_flows_unioned", artifacts="flows").stdout
    [(flow,)] = query(home, "select flow_id from polymarket.int_flows_unioned where flow_type = 'BUY' "
                            "order by flow_id limit 1")
    query(home, "delete from polymarket.trades_raw where trade_id = {id:String}", {"id": flow})
    rebuilt = dbt(home, "run", "--select", "int_flows_unioned", artifacts="flows")
    assert "KEPT" not in rebuilt.stdout, rebuilt.stdout
    assert query(home, "select count() from polymarket.int_flows_unioned where flow_id = {id:String}",
                 {"id": flow}) == [(0,)]


def test_unit_tests_fail_on_a_broken_expectation(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(
        ".venv", ".git", "runtime", "target", "logs", "__pycache__", "*.egg-info"))
    marts = project / "models" / "marts" / "_marts__models.yml"
    text = marts.read_text()
    broken = text.replace('A,cy,m_cy,"[150,0]",-65,0,1,85,3,7', 'A,cy,m_cy,"[150,0]",-65,0,1,84,3,7')
    assert broken != text
    marts.write_text(broken)
    proc = dbt(home, "test", "--select", "pnl_positions,test_type:unit", check=False, project_dir=project)
    assert proc.returncode != 0
    assert "pnl_positions_worked_example_all_resolutions" in proc.stdout + proc.stderr
    # the same selection passes on the real project: the edited expectation alone made it fail
    assert dbt(home, "test", "--select", "pnl_positions,test_type:unit").returncode == 0
