"""The runbook's Step D on the same engine: one ALTER TABLE ... UPDATE mutation per trade.

Batches of 300 (wallet, condition) pairs: read the batch's trades with their condition's payout
vector, compute each trade's P&L client-side (as the TypeScript scripts did), send one mutation per
trade, and wait for the mutation queue every 5 batches. Run on a sample of pairs of a copy of
`trades_raw`; `extrapolated_seconds` scales the sample's time linearly to all pairs.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from enrich.warehouse import table

COPY = "bench_old_trades"
BATCH_PAIRS = 300
WAIT_EVERY = 5
POLL_SECONDS = 0.1
PNL_QUANTUM = Decimal("1e-12")


def trade_pnl(side: str, shares: Decimal, usd: Decimal, fee: Decimal, numerator: int,
              denominator: int) -> Decimal:
    """docs/domain.md section 3: delta * p + cash, rounded once to 12 decimals like `pnl`."""
    delta, cash = (shares, -usd - fee) if side == "BUY" else (-shares, usd - fee)
    return (cash + delta * numerator / Decimal(denominator)).quantize(PNL_QUANTUM, ROUND_HALF_EVEN)


def wait_for_queue(client: Client, database: str) -> float:
    started = time.monotonic()
    while client.query(
        "select count() from system.mutations where database = {db:String} and table = {t:String}"
        " and is_done = 0", parameters={"db": database, "t": COPY},
    ).result_rows[0][0]:
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def emulate(client: Client, database: str, sample_pairs: int, seed: int = 6) -> dict[str, Any]:
    copy, trades = table(database, COPY), table(database, "trades_raw")
    resolutions = table(database, "resolutions")
    distinct_pairs = f"(select distinct wallet_address, condition_id from {trades})"
    client.command(f"drop table if exists {copy} sync")
    started = time.monotonic()
    # ordered by trade_id: each mutation's WHERE trade_id = ... can use the primary index, the
    # most favourable layout for the old approach
    client.command(
        f"create table {copy} engine = MergeTree order by trade_id as select *,"
        f" cast(null, 'Nullable(Decimal(38, 12))') as realized_pnl_usd from {trades}"
    )
    copy_seconds = time.monotonic() - started
    total_pairs, resolved_pairs = client.query(
        f"select count(), countIf(condition_id in (select condition_id from {resolutions}))"
        f" from {distinct_pairs}"
    ).result_rows[0]
    pairs = client.query(
        f"select wallet_address, condition_id from {distinct_pairs}"
        " order by cityHash64(wallet_address, condition_id, {seed:UInt64}) limit {n:UInt32}",
        parameters={"seed": seed, "n": sample_pairs},
    ).result_rows
    mutations, waited, fetch_seconds = 0, 0.0, 0.0
    started = time.monotonic()
    batches = [pairs[i : i + BATCH_PAIRS] for i in range(0, len(pairs), BATCH_PAIRS)]
    for number, batch in enumerate(batches, start=1):
        fetched = time.monotonic()
        rows = client.query(
            f"select t.trade_id, toString(t.side), t.shares, t.usd_value, t.fee_usd,"
            f" r.payout_numerators[t.outcome_index + 1], arraySum(r.payout_numerators)"
            f" from {copy} as t inner join {resolutions} as r using condition_id"
            " where (t.wallet_address, t.condition_id) in {pairs:Array(Tuple(String, String))}",
            parameters={"pairs": [tuple(p) for p in batch]},
        ).result_rows
        fetch_seconds += time.monotonic() - fetched
        for trade_id, side, shares, usd, fee, numerator, denominator in rows:
            client.command(
                f"alter table {copy} update realized_pnl_usd = {{pnl:Decimal(38, 12)}}"
                " where trade_id = {trade_id:String}",
                parameters={"pnl": trade_pnl(side, shares, usd, fee, numerator, denominator),
                            "trade_id": trade_id},
            )
            mutations += 1
        if number % WAIT_EVERY == 0:
            waited += wait_for_queue(client, database)
    waited += wait_for_queue(client, database)
    seconds = time.monotonic() - started
    mismatches = client.query(
        f"select count() from {copy} as t inner join {table(database, 'pnl')} as p on p.flow_id = t.trade_id"
        " where t.realized_pnl_usd is not null and t.realized_pnl_usd != p.realized_pnl_usd"
    ).result_rows[0][0]
    client.command(f"drop table if exists {copy} sync")
    return {
        "sample_pairs": len(pairs),
        "batches": len(batches),
        "mutations": mutations,
        "seconds": seconds,
        "fetch_seconds": fetch_seconds,
        "queue_wait_seconds": waited,
        "seconds_per_mutation": seconds / max(mutations, 1),
        "copy_seconds": copy_seconds,
        "total_pairs": int(total_pairs),
        "resolved_pairs": int(resolved_pairs),
        "extrapolated_seconds": seconds / max(len(pairs), 1) * int(total_pairs),
        "pnl_mismatches_vs_pnl_model": int(mismatches),
    }
