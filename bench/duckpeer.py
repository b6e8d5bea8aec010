"""A like-for-like peer: the same P&L built with DuckDB as persisted tables, what a dbt-duckdb user
would build from the same data (issue 14).

The four sources are loaded from the bench's Parquet exports into a DuckDB database file first,
untimed (our warehouse already holds them). Then, timed, three tables are built in that file and
checkpointed into it (persisted, like our MergeTree parts):
- `flows`: one row per trade leg and ctf leg with its condition's payout (int_flows_unioned);
- `pnl`: every flow's realized P&L, delta * num / S + cash (docs/domain.md section 3), exact;
- `pnl_positions`: per pair, its net shares by outcome, cash, fees and realized P&L (the sum of its
  flows', as ours).
"Step D" is pnl + pnl_positions from the persisted flows, compared with our Step D phase. The peer
does not validate rows (no quarantine) and does not compute the average-cost lens (section 8).

Exactness: DuckDB divides decimals in floating point, so num / S is done in integers: amounts in
micro-USD as HUGEINT, each flow's P&L rounded half away from zero to pico-USD (12 decimals, as ours
rounds) and stored as DECIMAL(38, 12) through an exact decimal multiplication.

`python -m bench.duckpeer PARQUET_DIR` runs it alone on existing exports (the bench's parquet folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from enrich.project import SOURCE_TABLES

FLOWS = """
create table flows as
with legs as (
    select trade_id as flow_id, cast(side as varchar) as flow_type, block_time, wallet_address, market_id,
           condition_id, outcome_index,
           case when side = 'BUY' then shares else -shares end as delta_shares,
           case when side = 'BUY' then -usd_value else usd_value end - fee_usd as cash_usd,
           fee_usd
    from trades_raw
    union all
    select event_id, cast(event_type as varchar), block_time, wallet_address, market_id, condition_id,
           outcome_index,
           case when event_type = 'SPLIT' then shares else -shares end,
           case when event_type = 'SPLIT' then -usd_value else usd_value end,
           cast(0 as decimal(38, 6))
    from ctf_events
)
select legs.*,
       r.condition_id is not null as is_resolved,
       coalesce(r.payout_numerators[legs.outcome_index + 1], 0) as payout_numerator,
       coalesce(list_sum(r.payout_numerators), 0) as payout_denominator
from legs left join resolutions as r on r.condition_id = legs.condition_id
"""

# pico = cash * 1e12 + round(delta * 1e6 * num * 1e6 / S), half away from zero, all in HUGEINT
PNL = """
create table pnl as
with priced as (
    select *,
           cast(delta_shares * 1000000 as hugeint) * payout_numerator * 1000000 as marked_x_s,
           greatest(payout_denominator, 1) as s
    from flows
)
select flow_id, flow_type, block_time, wallet_address, market_id, condition_id, outcome_index,
       delta_shares, cash_usd, fee_usd, is_resolved,
       case when is_resolved then
           cast(cast(cash_usd * 1000000 as hugeint) * 1000000
                + sign(marked_x_s) * ((abs(marked_x_s) * 2 + s) // (2 * s)) as decimal(38, 0))
           * cast(0.000000000001 as decimal(38, 12))
       end as realized_pnl_usd
from priced
"""

PNL_POSITIONS = """
create table pnl_positions as
with per_outcome as (
    select wallet_address, condition_id, outcome_index, sum(delta_shares) as net, count(*) as flows,
           sum(cash_usd) as cash_usd, sum(fee_usd) as fees_usd, sum(realized_pnl_usd) as realized,
           min(market_id) as market_id, bool_or(is_resolved) as is_resolved
    from pnl
    group by wallet_address, condition_id, outcome_index
)
select wallet_address, condition_id, min(market_id) as market_id,
       list(net order by outcome_index) as net_shares,
       sum(cash_usd) as cash_usd, sum(fees_usd) as fees_usd, bool_or(is_resolved) as is_resolved,
       case when bool_or(is_resolved) then sum(realized) end as realized_pnl_usd,
       sum(flows) as num_flows
from per_outcome
group by wallet_address, condition_id
"""


def load_sources(connection: duckdb.DuckDBPyConnection, directory: Path) -> dict[str, int]:
    rows = {}
    for name in SOURCE_TABLES:
        connection.execute(f"create or replace table {name} as select * from read_parquet(?)",
                           [str(directory / f"{name}.parquet")])
        rows[name] = connection.execute(f"select count(*) from {name}").fetchone()[0]
    connection.execute("checkpoint")
    return rows


def _timed(connection: duckdb.DuckDBPyConnection, statements: list[str]) -> float:
    started = time.monotonic()
    for statement in statements:
        connection.execute(statement)
    # persisted: the tables are in the database file, not only in its write-ahead log
    connection.execute("checkpoint")
    return time.monotonic() - started


def build(connection: duckdb.DuckDBPyConnection) -> dict[str, float]:
    for name in ("pnl_positions", "pnl", "flows"):
        connection.execute(f"drop table if exists {name}")
    connection.execute("checkpoint")
    return {"flows": _timed(connection, [FLOWS]), "step_D": _timed(connection, [PNL, PNL_POSITIONS])}


def compare(connection: duckdb.DuckDBPyConnection, ours_path: Path) -> dict[str, Any]:
    """Pairs whose resolved flag or realized P&L differ from ours (exported pnl_positions)."""
    connection.execute("create or replace temp table ours as select wallet_address, condition_id, "
                       "is_resolved = 1 as is_resolved, realized_pnl_usd, num_flows from read_parquet(?)",
                       [str(ours_path)])
    row = connection.execute("""
        select
            count(*) filter (where o.condition_id is null) as only_peer,
            count(*) filter (where p.condition_id is null) as only_ours,
            count(*) filter (where o.condition_id is not null and p.condition_id is not null
                             and (o.is_resolved != p.is_resolved or o.num_flows != p.num_flows
                                  or o.realized_pnl_usd is distinct from p.realized_pnl_usd)) as differ,
            count(*) filter (where o.is_resolved and p.is_resolved) as resolved_compared,
            (select count(*) from pnl_positions) as pairs_peer,
            (select count(*) from ours) as pairs_ours,
            cast(max(abs(o.realized_pnl_usd - p.realized_pnl_usd)) as varchar) as max_abs_difference
        from pnl_positions as p
        full join ours as o on o.wallet_address = p.wallet_address and o.condition_id = p.condition_id
    """).fetchone()
    names = ("pairs_only_in_peer", "pairs_only_in_ours", "pairs_differing", "resolved_pairs_compared",
             "pairs_peer", "pairs_ours", "max_abs_difference")
    check = dict(zip(names, row, strict=True))
    check["mismatches"] = check["pairs_only_in_peer"] + check["pairs_only_in_ours"] + check["pairs_differing"]
    examples = connection.execute("""
        select p.wallet_address, p.condition_id, p.realized_pnl_usd, o.realized_pnl_usd
        from pnl_positions as p join ours as o using (wallet_address, condition_id)
        where o.realized_pnl_usd is distinct from p.realized_pnl_usd limit 5""").fetchall()
    keys = ("wallet_address", "condition_id", "peer", "ours")
    check["examples"] = [dict(zip(keys, map(str, r), strict=True)) for r in examples]
    return check


def measure(directory: Path, database: Path, repeat: int) -> dict[str, Any]:
    """Load (untimed), build `repeat` times (min kept), check against our exported pnl_positions."""
    database.unlink(missing_ok=True)
    database.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    with duckdb.connect(str(database)) as connection:
        threads = connection.execute("select current_setting('threads')").fetchone()[0]
        started = time.monotonic()
        rows = load_sources(connection, directory)
        load_seconds = time.monotonic() - started
        runs = [build(connection) for _ in range(repeat)]
        check = compare(connection, directory / "pnl_positions.parquet")
    database.unlink(missing_ok=True)
    return {
        "duckdb": duckdb.__version__,
        "threads": threads,
        "source_rows": rows,
        "load_seconds_untimed": round(load_seconds, 3),
        "flows_seconds": round(min(r["flows"] for r in runs), 3),
        "step_D_seconds": round(min(r["step_D"] for r in runs), 3),
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
        "check": check,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duckpeer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parquet", type=Path,
                        help="folder with the sources' and pnl_positions' Parquet exports")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.parquet, args.parquet / "peer.duckdb", args.repeat), default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
