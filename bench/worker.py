"""Measurements that need the embedded engine, run in a child process of the benchmark.

chDB allows one process per data directory, so the benchmark itself never opens one: it starts
`python -m bench.worker TASK --home H` between the `enrich` commands, and reads one JSON line back.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from bench import oldway, scenarios
from enrich.config import Config
from enrich.warehouse import connect, resolve_target, table

MODELS = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")


def count_pairs(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    pairs, resolved = client.query(
        f"select count(), countIf(is_resolved = 1) from {table(database, 'pnl_positions')}"
    ).result_rows[0]
    return {"pairs": int(pairs), "resolved_pairs": int(resolved)}


def drop_models(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    for name in args.names or MODELS:
        client.command(f"drop table if exists {table(database, name)} sync")
    return {"dropped": args.names or list(MODELS)}


def old_approach(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    return oldway.emulate(client, database, args.sample_pairs)


# The polars peer's computation in ClickHouse SQL: the domain formula over the source tables, with
# no validation, no quarantine and no batch partitioning; shows the engine's own speed on the task.
MINIMAL_PNL = """
with flows as (
    select wallet_address, condition_id, outcome_index,
           if(side = 'BUY', shares, -shares) as delta,
           if(side = 'BUY', -usd_value, usd_value) - fee_usd as cash
    from {trades}
    union all
    select wallet_address, condition_id, outcome_index,
           if(event_type = 'SPLIT', shares, -shares), if(event_type = 'SPLIT', -usd_value, usd_value)
    from {events}
),
net as (
    select wallet_address, condition_id, outcome_index, sum(delta) as net_shares, sum(cash) as cash
    from flows group by wallet_address, condition_id, outcome_index
)
select net.wallet_address, net.condition_id, any(r.denominator) as denominator,
       sum(net.cash) * any(r.denominator) + sum(net.net_shares * r.payout_numerators[net.outcome_index + 1])
           as pnl_times_s
from net left join (
    select condition_id, payout_numerators, arraySum(payout_numerators) as denominator from {resolutions}
) as r on r.condition_id = net.condition_id
group by net.wallet_address, net.condition_id
"""


def minimal_sql(client: Client, database: str, repeat: int) -> list[float]:
    select = MINIMAL_PNL.format(trades=table(database, "trades_raw"), events=table(database, "ctf_events"),
                                resolutions=table(database, "resolutions"))
    scratch = table(database, "bench_sql_minimal")
    runs = []
    for _ in range(repeat):
        client.command(f"drop table if exists {scratch} sync")
        started = time.monotonic()
        client.command(f"create table {scratch} engine = Memory as {select}")
        runs.append(time.monotonic() - started)
    client.command(f"drop table if exists {scratch} sync")
    return runs


STEP_D_MODELS = (("pnl", "(condition_id, wallet_address, flow_id)"),
                 ("pnl_positions", "(condition_id, wallet_address)"))


def model_settings(compiled: Path, model: str) -> dict[str, Any]:
    """The query settings dbt runs MODEL's insert with (its config's query_settings), from the
    manifest `dbt compile` wrote next to the compiled SQL in COMPILED (target/compiled/<project>/
    models/marts): the SQL is timed as a run executes it."""
    manifest = json.loads((compiled.parents[3] / "manifest.json").read_text())
    config = manifest["nodes"][f"model.enrich.{model}"]["config"]
    return dict(config.get("query_settings") or {})


def write_model(
    client: Client, database: str, model: str, order_by: str, compiled: Path
) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of this process, where the embedded engine runs) to write
    MODEL's compiled SELECT in COMPILED, with the model's query settings, to a scratch MergeTree
    partitioned like the model."""
    scratch = table(database, f"bench_sql_{model}")
    client.command(f"drop table if exists {scratch} sync")
    started, cpu = time.monotonic(), _cpu_seconds()
    client.command(
        f"create table {scratch} engine = MergeTree partition by batch_key order by {order_by}"
        f" as {(compiled / f'{model}.sql').read_text()}",
        settings={"max_partitions_per_insert_block": 1024, **model_settings(compiled, model)},
    )
    measured = (time.monotonic() - started, _cpu_seconds() - cpu)
    client.command(f"drop table if exists {scratch} sync")
    return measured


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def model_sql(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """Time the compiled SELECTs of `pnl` and `pnl_positions`, each written to a scratch MergeTree
    table partitioned like the model, without dbt around them (min of `repeat` runs)."""
    compiled = Path(args.compiled)
    timings: dict[str, list[float]] = {}
    for model, order_by in STEP_D_MODELS:
        timings[model] = [write_model(client, database, model, order_by, compiled)[0]
                          for _ in range(args.repeat)]
    # pnl_positions reads the model table `pnl` (same rows as the scratch copy), as dbt's would
    best = sum(min(t) for t in timings.values())
    minimal = minimal_sql(client, database, args.repeat)
    return {"seconds": best, "runs": timings, "minimal_seconds": min(minimal), "minimal_runs": minimal}


def lens_share(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """The average-cost lens's share of Step D's engine time: the compiled pnl and pnl_positions
    with the lens (--compiled) and without it (--compiled-without, var avg_cost_lens false), run
    back to back `repeat` times on the same data. The share is taken on the engine's CPU time,
    which other processes on a shared machine disturb less than wall time, per back-to-back pair
    (both sides of a pair see the same load), and the median pair counts."""
    variants = {"with": Path(args.compiled), "without": Path(args.compiled_without)}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, compiled in variants.items():
            times = [write_model(client, database, model, order_by, compiled)
                     for model, order_by in STEP_D_MODELS]
            runs[name].append((sum(t[0] for t in times), sum(t[1] for t in times)))
    pairs = list(zip(runs["with"], runs["without"], strict=True))
    cpu_shares = [(w[1] - wo[1]) / w[1] for w, wo in pairs]
    wall_shares = [(w[0] - wo[0]) / w[0] for w, wo in pairs]
    return {"share": round(statistics.median(cpu_shares), 3),
            "wall_share": round(statistics.median(wall_shares), 3),
            "pair_shares": [round(x, 3) for x in cpu_shares],
            "cpu_with_seconds": round(min(t[1] for t in runs["with"]), 3),
            "cpu_without_seconds": round(min(t[1] for t in runs["without"]), 3),
            "wall_with_seconds": round(min(t[0] for t in runs["with"]), 3),
            "wall_without_seconds": round(min(t[0] for t in runs["without"]), 3),
            "runs": {name: [[round(w, 3), round(c, 3)] for w, c in times] for name, times in runs.items()}}


# The result tables a --changed run must leave equal to a full run's (issue 19).
CHECKED = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy",
           "wallet_category_accuracy", "quarantine")
SOURCES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")


def checksums(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """Per table: row count and an order-independent hash of every row, computed_at left out (it
    is the time the row was written, which differs between any two runs)."""
    return table_checksums(client, database, args.names or CHECKED)


def table_checksums(client: Client, database: str, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    out = {}
    for name in names:
        listed = client.query(
            "select name from system.columns where database = {db:String} and table = {t:String} "
            "and name != 'computed_at' order by position", parameters={"db": database, "t": name})
        columns = [row[0] for row in listed.result_rows]
        if not columns:
            raise ValueError(f"{database}.{name} has no columns: the table is missing")
        rows, digest = client.query(
            f"select count(), sum(cityHash64(tuple({', '.join(f'`{c}`' for c in columns)}))) "
            f"from {table(database, name)}").result_rows[0]
        out[name] = {"rows": int(rows), "hash": str(digest), "columns": len(columns)}
    return out


def source_pairs(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """Distinct (wallet, condition) pairs in the sources; 0 when they were never created."""
    present = client.query("select count() from system.tables where database = {db:String} "
                           "and name in ('trades_raw', 'ctf_events')", parameters={"db": database})
    if present.result_rows[0][0] < 2:
        return {"pairs": 0}
    pairs = client.query(
        f"select uniqExact(wallet_address, condition_id) from ("
        f"select wallet_address, condition_id from {table(database, 'trades_raw')} union all "
        f"select wallet_address, condition_id from {table(database, 'ctf_events')})").result_rows[0][0]
    return {"pairs": int(pairs)}


def result_parts(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """The active parts of the result tables (name, rows, modification time): a run that rewrote
    nothing leaves them as they were."""
    rows = client.query(
        "select table, name, rows, toString(modification_time) from system.parts where active"
        " and database = {db:String} and table in {names:Array(String)} order by table, name",
        parameters={"db": database, "names": list(CHECKED)}).result_rows
    return {"parts": [list(row) for row in rows]}


def scenario_rows(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """bench.scenarios.write_rows: the scenario's CSV files (and corrections to make) in --out."""
    prepared = scenarios.write_rows(client, database, args.scenario, Path(args.out), args.seed)
    return {"files": prepared.files, "corrections": len(prepared.corrections), "figures": prepared.figures}


def scenario_correct(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """bench.scenarios.correct: the fee corrections that scenario_rows decided, in place."""
    started = time.monotonic()
    rows = scenarios.correct(client, database, scenarios.Prepared.read(Path(args.out)))
    return {"corrected_rows": rows, "seconds": round(time.monotonic() - started, 3)}


TASKS = {"pairs": count_pairs, "source_pairs": source_pairs, "drop": drop_models, "oldway": old_approach,
         "sql": model_sql, "lens": lens_share, "checksums": checksums,
         "parts": result_parts, "scenario": scenario_rows, "correct": scenario_correct}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--home", required=True)
    parser.add_argument("--names", nargs="*")
    parser.add_argument("--sample-pairs", type=int, default=300)
    parser.add_argument("--compiled", help="folder holding the compiled pnl.sql and pnl_positions.sql")
    parser.add_argument("--compiled-without", help="the same compiled without the average-cost lens")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", choices=scenarios.SCENARIOS)
    parser.add_argument("--out", help="the scenario's folder (CSV files and its plan)")
    parser.add_argument("--seed", type=int, default=scenarios.DEFAULT_SEED)
    args = parser.parse_args()
    target = resolve_target(Config.from_env(home=args.home))
    result = TASKS[args.task](connect(target), target.database, args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
