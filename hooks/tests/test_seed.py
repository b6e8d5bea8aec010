"""`enrich seed`: counts, the closed-system property, the shape of every flow, determinism.

The checks recompute everything from the four source tables (in Python with exact Fractions for
the tiny scale, in SQL for the reference scale), never from the generator's own bookkeeping, so a
generator bug shows up as a broken contract. The tables live in `polymarket`, the profile's
default database: `run_enrich` clears ENRICH_DATABASE.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from statistics import median

import pytest
from conftest import query, run_enrich, seeded_copy
from recorded import run_recorded

from enrich.seed import SCALES

REFERENCE_WALLETS = 2_839  # docs/domain.md section 1
REFERENCE_PAIRS = 136_931
TINY_SEED = 7

CHECKSUM_SQL = """
select
    (select (count(), sum(cityHash64(tuple(*)))) from polymarket.trades_raw),
    (select (count(), sum(cityHash64(tuple(*)))) from polymarket.ctf_events),
    (select (count(), sum(cityHash64(tuple(*)))) from polymarket.markets_dim),
    (select (count(), sum(cityHash64(tuple(*)))) from polymarket.resolutions),
    (select count() from system.databases where name = 'polymarket__seed')
"""


@dataclass(frozen=True)
class Dataset:
    trades: list[dict]
    ctf: list[dict]
    markets: dict[str, dict]  # by condition_id
    payouts: dict[str, list[int]]
    resolved_at: dict[str, datetime]

    def prices(self, condition: str) -> list[Fraction]:
        nums = self.payouts[condition]
        return [Fraction(num, sum(nums)) for num in nums]


TRADE_COLUMNS = ["trade_id", "tx_hash", "block_time", "wallet_address", "market_id", "condition_id",
                 "outcome_index", "side", "shares", "usd_value", "fee_usd"]
CTF_COLUMNS = ["event_id", "block_time", "wallet_address", "market_id", "condition_id", "outcome_index",
               "event_type", "shares", "usd_value"]
MARKET_COLUMNS = ["market_id", "condition_id", "outcome_count", "outcome_labels"]
RESOLUTION_COLUMNS = ["condition_id", "payout_numerators", "resolved_at"]


def _load(home: Path) -> Dataset:
    """All four tables in one query (each `query` is a subprocess)."""
    def rows_of(table: str, columns: list[str]) -> str:
        return f"(select groupArray(tuple({', '.join(columns)})) from polymarket.{table})"

    (trades, ctf, markets, resolutions), = query(home, "select " + ", ".join([
        rows_of("trades_raw", TRADE_COLUMNS), rows_of("ctf_events", CTF_COLUMNS),
        rows_of("markets_dim", MARKET_COLUMNS), rows_of("resolutions", RESOLUTION_COLUMNS),
    ]))
    trades = [dict(zip(TRADE_COLUMNS, r, strict=True)) for r in trades]
    ctf = [dict(zip(CTF_COLUMNS, r, strict=True)) for r in ctf]
    for row in (*trades, *ctf):
        row["block_time"] = datetime.fromisoformat(row["block_time"])
        for col in ("shares", "usd_value", "fee_usd"):
            if col in row:
                row[col] = Decimal(row[col])
    return Dataset(
        trades=trades,
        ctf=ctf,
        markets={m[1]: dict(zip(MARKET_COLUMNS, m, strict=True)) for m in markets},
        payouts={c: list(p) for c, p, _ in resolutions},
        resolved_at={c: datetime.fromisoformat(at) for c, _, at in resolutions},
    )


# This machine's CPU count as the seed's child process sees it: implausible, so a seed that sent it
# as max_insert_threads shows (test_seed_asks_the_warehouse_how_many_insert_threads).
PATCHED_CPUS = "import os; os.cpu_count = lambda: 97"


@pytest.fixture(scope="module")
def tiny_recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A home after `enrich seed --scale tiny --seed 7`, seeded in a child process that records every
    statement the engine receives: the tiny tests read its tables, the insert-threads test its
    statements (one seed for both)."""
    root = tmp_path_factory.mktemp("seed_tiny")
    home = root / "home"
    seed = ["--home", str(home), "seed", "--scale", "tiny", "--seed", str(TINY_SEED)]
    statements = run_recorded(root, [seed], before=PATCHED_CPUS)
    return home, statements


@pytest.fixture(scope="module")
def tiny(tiny_recorded: tuple[Path, list[str]]) -> tuple[Path, Dataset]:
    home, _ = tiny_recorded
    return home, _load(home)


def _flows(data: Dataset):
    """(wallet, condition, outcome, delta, cash, fee) per source row: the table of section 3."""
    for t in data.trades:
        sign = 1 if t["side"] == "BUY" else -1
        yield (t["wallet_address"], t["condition_id"], t["outcome_index"], sign * t["shares"],
               -sign * t["usd_value"] - t["fee_usd"], t["fee_usd"])
    for e in data.ctf:
        sign = 1 if e["event_type"] == "SPLIT" else -1
        yield (e["wallet_address"], e["condition_id"], e["outcome_index"], sign * e["shares"],
               -sign * e["usd_value"], Decimal(0))


def test_tiny_counts_match_the_scale(tiny: tuple[Path, Dataset]) -> None:
    _, data = tiny
    scale = SCALES["tiny"]
    rows = [*data.trades, *data.ctf]
    wallets = {r["wallet_address"] for r in rows}
    pairs = {(r["wallet_address"], r["condition_id"]) for r in rows}
    assert len(wallets) == scale.wallets
    assert len(pairs) == scale.pairs
    assert 100 <= len(pairs) <= 1_000
    assert 6 <= len(rows) / len(pairs) <= 14, "about 10 flows per pair"
    # every market is listed, and every listed market is traded
    assert {r["condition_id"] for r in rows} == set(data.markets)
    assert set(data.payouts) < set(data.markets), "some conditions stay unresolved"
    assert len({m["market_id"] for m in data.markets.values()}) == len(data.markets)


def test_tiny_covers_the_domain_cases(tiny: tuple[Path, Dataset]) -> None:
    _, data = tiny
    counts = {m["outcome_count"] for m in data.markets.values()}
    assert 2 in counts and counts & {3, 4}, "binary and multi-outcome conditions"
    vectors = {tuple(p) for p in data.payouts.values()}
    assert {(1, 0), (0, 1)} <= vectors
    assert (1, 1) in vectors, "50/50"
    assert any(len(v) > 2 and v.count(1) == 1 and sum(v) == 1 for v in vectors), "one of many wins"
    assert any(len(v) > 2 and sorted(v, reverse=True)[:2] == [1, 1] for v in vectors), "shared win"
    assert any(len(v) > 2 and max(v) == 2 for v in vectors), "partial payouts like [2, 1, 1, 0]"
    assert any(t["fee_usd"] > 0 for t in data.trades) and any(t["fee_usd"] == 0 for t in data.trades)
    assert {e["event_type"] for e in data.ctf} == {"SPLIT", "MERGE", "REDEEM"}
    per_wallet = defaultdict(set)
    for r in (*data.trades, *data.ctf):
        per_wallet[r["wallet_address"]].add(r["condition_id"])
    spread = sorted(len(c) for c in per_wallet.values())
    assert spread[-1] >= 4 * median(spread), "a few wallets trade in very many conditions"


def test_tiny_rows_honour_the_contract(tiny: tuple[Path, Dataset]) -> None:
    _, data = tiny
    hex_id = re.compile(r"0x[0-9a-f]{64}")
    wallet = re.compile(r"0x[0-9a-f]{40}")
    assert len({t["trade_id"] for t in data.trades}) == len(data.trades)
    assert len({e["event_id"] for e in data.ctf}) == len(data.ctf)
    for m in data.markets.values():
        assert hex_id.fullmatch(m["condition_id"]) and m["market_id"] and m["market_id"] != m["condition_id"]
        assert len(m["outcome_labels"]) == m["outcome_count"]
        if m["condition_id"] in data.payouts:
            assert len(data.payouts[m["condition_id"]]) == m["outcome_count"]
    for r in (*data.trades, *data.ctf):
        market = data.markets[r["condition_id"]]
        assert wallet.fullmatch(r["wallet_address"])
        assert r["market_id"] == market["market_id"]
        assert 0 <= r["outcome_index"] < market["outcome_count"]
        assert r["shares"] > 0 and r["usd_value"] >= 0
        # every amount is exact at cents of a share and 6 decimals of cash
        assert r["shares"] == r["shares"].quantize(Decimal("0.01"))
        assert r["usd_value"] == r["usd_value"].quantize(Decimal("0.000001"))
    for t in data.trades:
        assert t["usd_value"] <= t["shares"], "price within [0, 1]"
        assert t["fee_usd"] >= 0
        if t["condition_id"] in data.resolved_at:
            assert t["block_time"] < data.resolved_at[t["condition_id"]], "no fill after resolution"


def test_tiny_is_a_closed_system(tiny: tuple[Path, Dataset]) -> None:
    """Per resolved market: sum over wallets of pnl == -sum(fees), exactly."""
    _, data = tiny
    pair_pnl: dict[tuple[str, str], Fraction] = defaultdict(Fraction)
    fees: dict[str, Fraction] = defaultdict(Fraction)
    for wallet_, condition, outcome, delta, cash, fee in _flows(data):
        fees[condition] += Fraction(fee)
        if condition in data.payouts:
            pair_pnl[wallet_, condition] += Fraction(cash) + Fraction(delta) * data.prices(condition)[outcome]
    market_pnl: dict[str, Fraction] = defaultdict(Fraction)
    for (_, condition), pnl in pair_pnl.items():
        market_pnl[condition] += pnl
    assert set(market_pnl) == set(data.payouts)
    assert {c: market_pnl[c] + fees[c] for c in market_pnl if market_pnl[c] + fees[c] != 0} == {}
    assert sum(fees.values()) > 0
    assert any(p > 0 for p in pair_pnl.values()) and any(p < 0 for p in pair_pnl.values())


def test_tiny_every_fill_has_its_counterparty(tiny: tuple[Path, Dataset]) -> None:
    """Per transaction, BUY - SELL shares is the same d on every outcome (0: matched fill, d > 0:
    a mint of d sets, d < 0: a merge match), and the cash exchanged is exactly d sets at 1 USD."""
    _, data = tiny
    by_tx = defaultdict(list)
    for t in data.trades:
        by_tx[t["tx_hash"]].append(t)
    kinds = set()
    for legs in by_tx.values():
        condition = {t["condition_id"] for t in legs}
        assert len(condition) == 1
        n = data.markets[condition.pop()]["outcome_count"]
        shares = [Decimal(0)] * n
        cash = Decimal(0)
        for t in legs:
            sign = 1 if t["side"] == "BUY" else -1
            shares[t["outcome_index"]] += sign * t["shares"]
            cash += sign * t["usd_value"]
        assert len(set(shares)) == 1, legs
        assert cash == shares[0], legs
        assert len({t["wallet_address"] for t in legs}) == len(legs), "no wallet trades with itself"
        kinds.add((shares[0] > 0) - (shares[0] < 0))
    assert kinds == {-1, 0, 1}, "matched fills, mint matches and merge matches"


def test_tiny_ctf_events_are_complete(tiny: tuple[Path, Dataset]) -> None:
    _, data = tiny
    events = defaultdict(list)
    for e in data.ctf:
        events[e["wallet_address"], e["condition_id"], e["block_time"], e["event_type"]].append(e)
    for (_, condition, at, kind), legs in events.items():
        n = data.markets[condition]["outcome_count"]
        if kind in ("SPLIT", "MERGE"):
            assert sorted(e["outcome_index"] for e in legs) == list(range(n))
            assert len({e["shares"] for e in legs}) == 1
            for e in legs:
                assert e["usd_value"] * n == e["shares"], "usd_value = s / n, exactly"
        else:
            assert condition in data.payouts and at > data.resolved_at[condition]
            prices = data.prices(condition)
            for e in legs:
                assert Fraction(e["usd_value"]) == Fraction(e["shares"]) * prices[e["outcome_index"]]


def test_tiny_never_sells_what_it_does_not_hold(tiny: tuple[Path, Dataset]) -> None:
    _, data = tiny
    moves = sorted(
        [(t["block_time"], t["wallet_address"], t["condition_id"], t["outcome_index"],
          t["shares"] if t["side"] == "BUY" else -t["shares"]) for t in data.trades]
        + [(e["block_time"], e["wallet_address"], e["condition_id"], e["outcome_index"],
            e["shares"] if e["event_type"] == "SPLIT" else -e["shares"]) for e in data.ctf],
        key=lambda m: (m[0], -m[4]),
    )
    held: dict[tuple, Decimal] = defaultdict(Decimal)
    for _, *position, delta in moves:
        held[tuple(position)] += delta
        assert held[tuple(position)] >= 0, position


def _checksums(home: Path) -> list:
    (*tables, scratch), = query(home, CHECKSUM_SQL)
    assert scratch == 0, "the scratch database is dropped"
    return tables


def test_same_seed_same_data_other_seed_other_data(tiny: tuple[Path, Dataset], tiny_seed: Path,
                                                   tmp_path: Path) -> None:
    first = _checksums(tiny[0])
    # a home holding another seed's data: the session's tiny seed (`--seed` left at its default, 42)
    home = seeded_copy(tiny_seed, tmp_path / "again")
    other = _checksums(home)
    assert all(a != b for a, b in zip(other, first, strict=True))
    old = [r[0] for r in query(home, "select condition_id from polymarket.markets_dim")]
    assert old
    # the same seed again, over the other seed's tables: the same bytes as the first time
    run_enrich(home, "seed", "--scale", "tiny", "--seed", str(TINY_SEED))
    assert _checksums(home) == first
    # the seed replaced the tables: nothing of the other seed's conditions is left
    leftovers = query(home, """
        select (select count() from polymarket.trades_raw where condition_id in {old:Array(String)})
             + (select count() from polymarket.ctf_events where condition_id in {old:Array(String)})
             + (select count() from polymarket.markets_dim where condition_id in {old:Array(String)})
             + (select count() from polymarket.resolutions where condition_id in {old:Array(String)})
    """, {"old": sorted(old)})
    assert leftovers == [(0,)]


def test_reference_scale_matches_the_spec(tmp_path: Path) -> None:
    home = tmp_path / "reference"
    started = time.monotonic()
    run_enrich(home, "seed", "--scale", "reference")
    elapsed = time.monotonic() - started
    (wallets, pairs, flows, bad_markets, resolved, unresolved), = query(home, """
        with flows as (
            select wallet_address, condition_id, outcome_index,
                   if(side = 'BUY', shares, -shares) as delta,
                   if(side = 'BUY', -usd_value, usd_value) - fee_usd as cash, fee_usd as fee
            from polymarket.trades_raw
            union all
            select wallet_address, condition_id, outcome_index,
                   if(event_type = 'SPLIT', shares, -shares),
                   if(event_type = 'SPLIT', -usd_value, usd_value), 0
            from polymarket.ctf_events
        ),
        -- conservation times sum(num), so every term stays an exact decimal
        per_market as (
            select f.condition_id,
                   sum(f.cash * arraySum(r.payout_numerators)
                       + f.delta * r.payout_numerators[f.outcome_index + 1]
                       + f.fee * arraySum(r.payout_numerators)) as scaled_imbalance
            from flows as f inner join polymarket.resolutions as r on f.condition_id = r.condition_id
            group by f.condition_id
        )
        select
            (select uniqExact(wallet_address) from flows),
            (select uniqExact(wallet_address, condition_id) from flows),
            (select count() from flows),
            (select countIf(scaled_imbalance != 0) from per_market),
            (select count() from per_market),
            (select count() from polymarket.markets_dim) - (select count() from polymarket.resolutions)
    """)
    assert wallets == REFERENCE_WALLETS
    assert abs(pairs - REFERENCE_PAIRS) <= REFERENCE_PAIRS // 100
    assert 8 <= flows / pairs <= 12
    assert bad_markets == 0 and resolved > 0 and unresolved > 0
    # about 20 s on an idle 2-core machine; the bound only catches a pathological regression
    assert elapsed < 120, f"reference seed took {elapsed:.0f} s"


def test_seed_asks_the_warehouse_how_many_insert_threads(tiny_recorded: tuple[Path, list[str]]) -> None:
    """The warehouse may be a server with another CPU count than this machine: the seed must not
    send this machine's (here made implausible: 97) as max_insert_threads."""
    home, statements = tiny_recorded
    sent = {m.group(1) for s in statements
            for m in re.finditer(r"max_insert_threads\s*=\s*'?(\d+)", s)}
    (engine_threads,), = query(home, "select getSetting('max_threads')")
    assert sent == {str(engine_threads)}, sent
