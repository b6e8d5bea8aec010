"""An independent in-memory peer: pair P&L by polars from the Parquet exports (docs/domain.md section 3).

Exact arithmetic, no floats: amounts stay polars Decimal(38, 6), and a pair's P&L is kept as the
fraction N / S with N = S * sum(cash) + sum_i(net_shares_i * num_i) and S = sum(num).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

PAIR = ["wallet_address", "condition_id"]
AMOUNT = pl.Decimal(38, 6)


def flows(directory: Path) -> pl.LazyFrame:
    """One row per trade or ctf leg: (wallet, condition, outcome, delta, cash), per the flow table."""
    trades = pl.scan_parquet(directory / "trades_raw.parquet").select(
        *PAIR, "outcome_index",
        delta=pl.when(pl.col("side") == "BUY").then(pl.col("shares")).otherwise(-pl.col("shares")),
        cash=pl.when(pl.col("side") == "BUY").then(-pl.col("usd_value")).otherwise(pl.col("usd_value"))
        - pl.col("fee_usd"),
    )
    split = pl.col("event_type") == "SPLIT"
    events = pl.scan_parquet(directory / "ctf_events.parquet").select(
        *PAIR, "outcome_index",
        delta=pl.when(split).then(pl.col("shares")).otherwise(-pl.col("shares")),
        cash=pl.when(split).then(-pl.col("usd_value")).otherwise(pl.col("usd_value")),
    )
    return pl.concat([trades, events]).with_columns(pl.col("delta", "cash").cast(AMOUNT))


def payouts(directory: Path) -> pl.LazyFrame:
    """(condition, outcome, num, S) for every outcome of every resolved condition."""
    return (
        pl.scan_parquet(directory / "resolutions.parquet")
        .select("condition_id", "payout_numerators",
                denominator=pl.col("payout_numerators").list.sum().cast(pl.Int64))
        .explode("payout_numerators")
        .with_columns(outcome_index=pl.int_range(pl.len()).over("condition_id").cast(pl.UInt8))
        .rename({"payout_numerators": "numerator"})
    )


def pair_pnl(directory: Path) -> pl.DataFrame:
    """Per pair: S (null when unresolved) and N, the P&L times S; pnl = N / S."""
    net = (
        flows(directory)
        .group_by(*PAIR, "outcome_index")
        .agg(pl.col("delta").sum().alias("net_shares"), pl.col("cash").sum())
        .join(payouts(directory), on=["condition_id", "outcome_index"], how="left")
    )
    return (
        net.group_by(PAIR)
        .agg(
            pl.col("cash").sum(),
            (pl.col("net_shares") * pl.col("numerator").cast(pl.Int64)).sum().alias("marked"),
            # S is the condition's: every outcome row of a resolved pair carries the same value
            pl.col("denominator").max(),
        )
        .with_columns(pnl_times_s=pl.col("cash") * pl.col("denominator") + pl.col("marked"))
        .select(*PAIR, "denominator", "pnl_times_s")
        .collect()
    )


def compare(peer: pl.DataFrame, ours_path: Path) -> dict[str, Any]:
    """Count pairs whose P&L differs beyond the rounding of ours (12 decimals per flow, then summed)."""
    ours = pl.read_parquet(ours_path).select(*PAIR, "is_resolved", "realized_pnl_usd", "num_flows")
    both = peer.with_columns(in_peer=pl.lit(True)).join(ours, on=PAIR, how="full", coalesce=True)
    only_peer = both.filter(pl.col("is_resolved").is_null()).height
    only_ours = both.filter(pl.col("in_peer").is_null()).height
    matched = both.filter(pl.col("is_resolved").is_not_null() & pl.col("in_peer").is_not_null())
    resolved_disagree = matched.filter(
        (pl.col("is_resolved") == 1) != pl.col("denominator").is_not_null()
        | (pl.col("realized_pnl_usd").is_null() != pl.col("denominator").is_null())
    ).height
    resolved = matched.filter(pl.col("denominator").is_not_null() & pl.col("realized_pnl_usd").is_not_null())
    # |ours - N/S| <= num_flows * 0.5e-12, compared as |ours * S - N| <= num_flows * S * 0.5e-12
    error = (pl.col("realized_pnl_usd") * pl.col("denominator") - pl.col("pnl_times_s")).abs()
    bound = pl.col("num_flows").cast(pl.Int64) * pl.col("denominator") * pl.lit(0.5e-12)
    mismatched = resolved.filter(error.cast(pl.Float64) > bound)
    return {
        "pairs_peer": peer.height,
        "pairs_ours": ours.height,
        "pairs_only_in_peer": only_peer,
        "pairs_only_in_ours": only_ours,
        "resolved_flag_mismatches": resolved_disagree,
        "resolved_pairs_compared": resolved.height,
        "pnl_mismatches": mismatched.height,
        "mismatches": only_peer + only_ours + resolved_disagree + mismatched.height,
        "max_abs_difference_times_s": str(resolved.select(error.max()).item()) if resolved.height else "0",
        "examples": mismatched.head(5).with_columns(pl.col(pl.Decimal).cast(pl.String)).to_dicts(),
    }


def measure(directory: Path, repeat: int) -> tuple[list[float], pl.DataFrame]:
    """Seconds of each of `repeat` runs (Parquet read included) and the last result."""
    times, result = [], pl.DataFrame()
    for _ in range(repeat):
        started = time.monotonic()
        result = pair_pnl(directory)
        times.append(time.monotonic() - started)
    return times, result
