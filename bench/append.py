"""New trades for `enrich run --changed`: 1% of trades_raw's rows, on existing and on new conditions.

How they are spread: real new trades land on a few active markets, not on every condition, and
the runner rebuilds a batch key (cityHash64(condition_id) % 256) when any of its flows changed,
so the spread decides how much of the work a --changed run redoes. Here the fills go to
`existing` conditions that are still open (unresolved conditions of markets_dim: a resolved one
takes no new fill, a fill after resolved_at is bad input) and to `new` conditions (new markets_dim
rows; half of them resolved, with a payout vector of the right length and a resolved_at after
their last fill), half of the fills each, uniformly over the conditions of each group. With the
defaults (16 + 16 conditions) at most 32 of the 256 keys change, whatever the scale.

The data stays a closed system (docs/domain.md section 5) so the gates keep passing: every fill
has both legs (an existing trader BUYs, a market maker SELLs the same shares at the same price,
each paying its own fee), and each maker first SPLITs, in every condition it sells in, enough
complete sets to own what it sells (one SPLIT of n legs per maker and condition). Amounts are
chosen so every value is exact at 6 decimals. The new trade rows number 1% of trades_raw's; the
SPLIT legs come on top, in ctf_events.

The rows are written as Parquet files an `enrich load DIR --append` takes.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

AMOUNT = pl.Decimal(38, 6)
TIME = pl.Datetime("ms", "UTC")
MAKERS = 3
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Condition:
    condition_id: str
    market_id: str
    outcomes: int
    new: bool
    resolved: bool


def _hex(*parts: object, digits: int) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:digits]


def _pick_conditions(sources: Path, rng: random.Random, existing: int, new: int, seed: int,
                     start: datetime) -> tuple[list[Condition], list[dict[str, Any]]]:
    markets = pl.read_parquet(sources / "markets_dim.parquet")
    resolved = pl.read_parquet(sources / "resolutions.parquet", columns=["condition_id"])
    open_markets = (markets.join(resolved, on="condition_id", how="anti")
                    .sort("market_id").select("condition_id", "market_id", "outcome_count").rows())
    if len(open_markets) < existing:
        raise ValueError(f"{sources}: {len(open_markets)} open conditions, {existing} wanted")
    chosen = [Condition(c, m, int(n), new=False, resolved=False)
              for c, m, n in rng.sample(open_markets, existing)]
    categories = sorted(markets["category"].unique().to_list())
    next_market = max(int(m) for m in markets["market_id"].to_list() if m.isdigit()) + 1
    dim_rows = []
    for k in range(new):
        outcomes = rng.choice((2, 2, 2, 3, 4))
        condition = Condition("0x" + _hex("bench-append", seed, k, digits=64), str(next_market + k), outcomes,
                              new=True, resolved=k % 2 == 0)
        chosen.append(condition)
        dim_rows.append({
            "market_id": condition.market_id, "condition_id": condition.condition_id,
            "question": f"Will appended event {k} happen?", "category": rng.choice(categories),
            "outcome_count": outcomes,
            "outcome_labels": ["Yes", "No"] if outcomes == 2 else [f"Option {i}" for i in range(outcomes)],
            "end_date": start + timedelta(days=1),
        })
    return chosen, dim_rows


def generate(sources: Path, out: Path, share: float = 0.01, existing: int = 16, new: int = 16,
             seed: int = 14) -> dict[str, Any]:
    """Write trades_raw, ctf_events, markets_dim and resolutions Parquet files of new rows to `out`."""
    rng = random.Random(seed)
    trades = pl.scan_parquet(sources / "trades_raw.parquet")
    stats = trades.select(rows=pl.len(), last=pl.col("block_time").max()).collect().row(0, named=True)
    fills = max(1, round(stats["rows"] * share / 2))
    # after every existing trade, so the new rows are what arrived since the last run
    start = stats["last"].replace(tzinfo=UTC) + timedelta(hours=1)
    conditions, dim_rows = _pick_conditions(sources, rng, existing, new, seed, start)
    activity = (trades.group_by("wallet_address").agg(rows=pl.len())
                .sort(["rows", "wallet_address"], descending=[True, False]).collect())
    makers = activity["wallet_address"].head(MAKERS).to_list()
    traders = activity["wallet_address"].slice(MAKERS).to_list()

    trade_rows: list[dict[str, Any]] = []
    # (maker, condition) -> shares sold per outcome, for the SPLIT that precedes the sells
    sold: dict[tuple[str, Condition], dict[int, Decimal]] = {}
    for f in range(fills):
        group = [c for c in conditions if c.new == (f % 2 == 1)] or conditions
        condition = group[rng.randrange(len(group))]
        outcome = rng.randrange(condition.outcomes)
        shares = Decimal(rng.randint(100, 50_000)) * CENT
        price_cents = rng.randint(1, 99)
        usd = shares * price_cents * CENT
        at = start + timedelta(milliseconds=rng.randrange(86_400_000))
        maker, trader = rng.choice(makers), rng.choice(traders)
        tx = "0x" + _hex("bench-append-tx", seed, f, digits=64)
        for leg, (wallet, side) in enumerate(((trader, "BUY"), (maker, "SELL"))):
            fee = (usd * Decimal(rng.choice((0, 0, 1, 2))) / 100).quantize(MICRO)
            trade_rows.append({
                "trade_id": f"bench-append-{seed}-{f}-{leg}", "tx_hash": tx, "block_time": at,
                "wallet_address": wallet, "market_id": condition.market_id,
                "condition_id": condition.condition_id, "outcome_index": outcome, "side": side,
                "shares": shares, "usd_value": usd, "fee_usd": fee,
            })
        per_outcome = sold.setdefault((maker, condition), {})
        per_outcome[outcome] = per_outcome.get(outcome, Decimal(0)) + shares

    ctf_rows: list[dict[str, Any]] = []
    for number, ((maker, condition), per_outcome) in enumerate(sold.items()):
        # a multiple of n cents, so each leg's usd_value (sets / n) is whole cents
        step = condition.outcomes * CENT
        sets = -(-max(per_outcome.values()) // step) * step
        for outcome in range(condition.outcomes):
            ctf_rows.append({
                "event_id": f"bench-append-split-{seed}-{number}-{outcome}", "block_time": start,
                "wallet_address": maker, "market_id": condition.market_id,
                "condition_id": condition.condition_id, "outcome_index": outcome, "event_type": "SPLIT",
                "shares": sets, "usd_value": sets / condition.outcomes,
            })

    resolution_rows = []
    for condition in (c for c in conditions if c.resolved):
        winner = rng.randrange(condition.outcomes)
        resolution_rows.append({"condition_id": condition.condition_id,
                                "payout_numerators": [int(i == winner) for i in range(condition.outcomes)],
                                "resolved_at": start + timedelta(days=2)})

    out.mkdir(parents=True, exist_ok=True)
    amounts = {"shares": AMOUNT, "usd_value": AMOUNT, "block_time": TIME, "outcome_index": pl.UInt8}
    files = {
        "trades_raw": pl.DataFrame(trade_rows, schema_overrides={**amounts, "fee_usd": AMOUNT}),
        "ctf_events": pl.DataFrame(ctf_rows, schema_overrides=amounts),
        "markets_dim": pl.DataFrame(dim_rows, schema_overrides={"end_date": TIME, "outcome_count": pl.UInt8}),
        "resolutions": pl.DataFrame(resolution_rows, schema_overrides={
            "payout_numerators": pl.List(pl.UInt32), "resolved_at": TIME}),
    }
    for name, frame in files.items():
        frame.write_parquet(out / f"{name}.parquet")
    return {
        "trades_raw_rows_before": stats["rows"],
        "new_trade_rows": len(trade_rows),
        "new_ctf_rows": len(ctf_rows),
        "existing_conditions": existing,
        "new_conditions": new,
        "new_resolved_conditions": len(resolution_rows),
        "seed": seed,
    }
