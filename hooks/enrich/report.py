"""`enrich report --out DIR`: the results as one static page, DIR/index.html.

This module gathers what the page shows; enrich.report_html draws it. The numbers come from the
marts (enrich.summary and two more grouped queries), the gates from the last gate run as
`enrich gates --json` prints it (enrich.gates.read_last: never run again here), the timings from
where `enrich status` reads them (enrich.status.Collector.last_run).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from enrich import gates, summary
from enrich.config import Config
from enrich.errors import EnrichError
from enrich.report_html import render
from enrich.status import Collector
from enrich.warehouse import connect, resolve_target, table

# Accuracy histogram: BINS bins of equal width over [0, 1], the last one closed (accuracy 1.0).
BINS = 10


def accuracy_histogram(client: Client, database: str) -> list[int]:
    """Wallets per accuracy bin, binned on the integer counts (wins * BINS // decided): exact, where
    binning the Float64 ratio would put 0.3 or 0.7 in a neighbour's bin depending on rounding."""
    rows = client.query(
        f"select least(intDiv(wins * {{bins:UInt64}}, wins + losses), {{last:UInt64}}) as bin, count() "
        f"from {table(database, 'wallet_accuracy')} where wins + losses > 0 group by bin",
        parameters={"bins": BINS, "last": BINS - 1},
    ).result_rows
    counts = [0] * BINS
    for bin_, wallets in rows:
        counts[int(bin_)] = int(wallets)
    return counts


def category_pnl(client: Client, database: str) -> list[dict[str, Any]]:
    """Per market category ('' for markets missing from markets_dim): the P&L of the positions held
    at resolution and their won, lost and pushed counts (docs/domain.md section 8)."""
    source = table(database, "wallet_category_accuracy")
    rows = client.query(
        "select category, sum(toDecimal256(held_at_resolution_pnl_usd, 12)), sum(positions), sum(wins), "
        f"sum(losses), sum(pushes), uniqExact(wallet_address) from {source} "
        "group by category order by category"
    ).result_rows
    return [{"category": category, "pnl_usd": pnl if pnl is not None else Decimal(0),
             "positions": int(positions), "wins": int(wins), "losses": int(losses), "pushes": int(pushes),
             "wallets": int(wallets)}
            for category, pnl, positions, wins, losses, pushes, wallets in rows]


def collect(config: Config, min_resolved: int) -> dict[str, Any]:
    target = resolve_target(config)
    client = connect(target)
    try:
        summary.require_marts(client, target.database, (*summary.MARTS, "wallet_category_accuracy"))
        found = summary.collect(client, target.database, min_resolved)
        histogram = accuracy_histogram(client, target.database)
        categories = category_pnl(client, target.database)
    finally:
        client.close()
    checkpoint, steps, batches = Collector(config).last_run()
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "home": str(config.home),
        "target": target.name,
        "database": target.database,
        "summary": found.to_json(),
        "histogram": histogram,
        "categories": categories,
        "gates": gates.read_last(config),
        "run": None if checkpoint is None else {
            "run_id": checkpoint.run_id, "status": checkpoint.status, "mode": checkpoint.mode,
            "step_request": checkpoint.step_request, "started_at": checkpoint.started_at,
            "updated_at": checkpoint.updated_at,
        },
        "step_timings": [asdict(t) for t in steps],
        "batch_timings": [asdict(b) for b in batches],
    }


def write(out_dir: Path, page: str) -> Path:
    """DIR/index.html, swapped in whole: a failed write leaves the previous page."""
    path = out_dir / "index.html"
    partial = out_dir / f".index.html.{os.getpid()}.partial"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, path)
    except OSError as ex:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise EnrichError(f"{out_dir}: cannot write the report: {ex.strerror or type(ex).__name__}") from None
    return path


def main(config: Config, args: argparse.Namespace) -> int:
    minimum = summary.DEFAULT_MIN_RESOLVED if args.min_resolved is None else args.min_resolved
    path = write(Path(args.out), render(collect(config, minimum)))
    print(f"wrote {path}")
    return 0
