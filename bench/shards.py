"""`python -m bench.shards`: a sharded cluster simulated by embedded homes, one per shard.

Seeds one home, exports its four source tables, splits them by shard = batch_key % shards
(markets_dim goes whole to every shard: a dimension looked up by market_id, see docs/SCALING.md),
loads each shard into its own home and runs `enrich run --step all --fresh` there and on the
single home. Then checks that the union of the shards' pnl, pnl_positions and
wallet_resolution_outcomes equals the single home's (row counts and order-independent checksums
of every column but computed_at), and that the cross-shard aggregates recomputed from the union
equal the single home's: wallet_accuracy (built by the model itself, with dbt, in a "union" home
holding the shards' rows, as a Distributed read would see them), gate 3's distinct wallets (the
gate itself, run there), and conservation per market.

The batch key of every row comes from the single home's staging views, i.e. ClickHouse evaluates
the project's own `batch_key` macro; Python only takes it modulo the number of shards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import machine, proc
from bench.endtoend import parse_events
from enrich.config import PROJECT_DIR

SHARDED_SOURCES = ("trades_raw", "ctf_events", "resolutions")
REPLICATED_SOURCES = ("markets_dim",)
RESULTS = ("pnl", "pnl_positions", "wallet_resolution_outcomes")
# per wallet, so across shards: rebuilt from the union (the grain gates check both)
CROSS_SHARD = ("wallet_accuracy", "wallet_category_accuracy")
RUN = ("run", "--step", "all", "--fresh")
EVENTS = "full-enrichment.events.jsonl"


class SimulationError(Exception):
    """A command the simulation depends on failed; the message names it and its stderr."""


def say(line: str) -> None:
    print(f"[shards {datetime.now(UTC):%H:%M:%S}] {line}", flush=True)


def child_env() -> dict[str, str]:
    """No inherited warehouse, checkpoint or batch settings: every home is embedded and local."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ENRICH_", "CLICKHOUSE_", "POSTGRES_")) and k != "BATCH_SIZE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")]))
    return env


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def command(argv: list[str], log: Path) -> proc.Measured:
    measured = proc.run(argv, env=child_env(), cwd=PROJECT_DIR, log=log)
    if measured.returncode != 0:
        raise SimulationError(f"{' '.join(argv[2:])} exited {measured.returncode}: "
                              f"{measured.stderr.strip()[-2000:]}")
    return measured


def enrich(home: Path, *args: str) -> proc.Measured:
    return command([sys.executable, "-m", "enrich", "--home", str(home), *args], home / "shards.log")


def worker(home: Path, task: str, *args: str) -> Any:
    measured = command([sys.executable, "-m", "bench.shardworker", task, "--home", str(home), *args],
                       home / "shards.log")
    return json.loads(measured.stdout.strip().splitlines()[-1])


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(home: Path) -> dict[str, Any]:
    """`enrich run --step all --fresh` on a home: wall and CPU time, steps D and E, load around it.

    The CPU time is the children's, so it is the run's own only while no other child ends
    meanwhile (`--jobs 1`); it shows the work when other processes on the machine slow the wall clock.
    """
    before, cpu = loadavg(), children_cpu_seconds()
    offset = (home / EVENTS).stat().st_size if (home / EVENTS).exists() else 0
    measured = enrich(home, *RUN)
    cpu = children_cpu_seconds() - cpu
    with (home / EVENTS).open() as fh:
        fh.seek(offset)
        marks, batches = parse_events(fh.read().splitlines())
    return {
        "seconds": round(measured.seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "step_D": round((marks["D"] - marks["plan"]).total_seconds(), 2),
        "step_E": round((marks["E"] - marks["D"]).total_seconds(), 2),
        "batches": len(batches),
        "peak_rss_mb": round(measured.peak_rss_mb),
        "loadavg_before": before,
        "loadavg_after": loadavg(),
    }


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The least disturbed of a home's runs (the machine is shared), with every attempt's time."""
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "attempts_seconds": [r["seconds"] for r in runs],
            "attempts_cpu_seconds": [r["cpu_seconds"] for r in runs]}


def split_sources(sources: Path, keys: dict[str, int], shard_dirs: list[Path]) -> dict[str, list[int]]:
    """Write each shard's rows of every source table; return the rows per shard per table."""
    rows: dict[str, list[int]] = {}
    for name in SHARDED_SOURCES:
        data = pq.read_table(sources / f"{name}.parquet")
        try:
            shard = pa.array([keys[c] % len(shard_dirs) for c in data.column("condition_id").to_pylist()])
        except KeyError as ex:
            raise SimulationError(f"{name}: condition {ex} has no batch key in the staging views") from None
        rows[name] = []
        for index, directory in enumerate(shard_dirs):
            part = data.filter(pc.equal(shard, index))
            pq.write_table(part, directory / f"{name}.parquet")
            rows[name].append(part.num_rows)
        if sum(rows[name]) != data.num_rows:
            raise SimulationError(f"{name}: the shards hold {sum(rows[name])} rows of {data.num_rows}")
    for name in REPLICATED_SOURCES:
        for directory in shard_dirs:
            shutil.copyfile(sources / f"{name}.parquet", directory / f"{name}.parquet")
        rows[name] = [pq.read_metadata(sources / f"{name}.parquet").num_rows] * len(shard_dirs)
    return rows


def run_shard(home: Path, source_dir: Path, shards: int) -> dict[str, Any]:
    enrich(home, "load", str(source_dir))
    run = timed_run(home)
    facts = worker(home, "facts", "--tables", *RESULTS, *CROSS_SHARD, "--residues", str(shards),
                   "--export", *RESULTS, "--export-dir", str(home / "results"))
    return {"run": run, **facts}


def union_home(home: Path, sources: Path, ddl: dict[str, str], shard_homes: list[Path]) -> dict[str, Any]:
    """A home holding the shards' results, as the cluster's Distributed tables would show them.

    wallet_accuracy is rebuilt there by dbt from the model itself, and the gates run there, so
    the cross-shard figures come from the project's own SQL, not from a second copy of it.
    """
    enrich(home, "load", str(sources))
    (home / "ddl.json").write_text(json.dumps(ddl))
    worker(home, "adopt", "--ddl-file", str(home / "ddl.json"), "--tables", *RESULTS,
           "--from", *[str(h / "results") for h in shard_homes])
    enrich(home, "dbt", "run", "--select", "+int_flows_unioned", *CROSS_SHARD)
    gates = enrich(home, "gates")
    facts = worker(home, "facts", "--tables", *RESULTS, *CROSS_SHARD)
    return {"gates_output": gates.stdout, **facts}


def combine(checksums: list[dict[str, Any]]) -> dict[str, Any]:
    """The union's checksum: rows and hash sums add up (mod 2^64) over disjoint shards."""
    columns = {tuple(c["columns"]) for c in checksums}
    return {
        "columns": list(columns.pop()) if len(columns) == 1 else sorted(columns),
        "rows": sum(c["rows"] for c in checksums),
        "city": sum(c["city"] for c in checksums) % 2**64,
        "sip": sum(c["sip"] for c in checksums) % 2**64,
    }


def compare(single: dict[str, Any], shards: list[dict[str, Any]], union: dict[str, Any]) -> dict[str, Any]:
    """Each check: the single home's figure, the shards' or union's, and whether they are equal."""
    checks: dict[str, Any] = {}
    for name in RESULTS:
        summed = combine([s["checksums"][name] for s in shards])
        checks[f"{name}: union of shards"] = {"single": single["checksums"][name], "shards": summed,
                                              "equal": summed == single["checksums"][name]}
        checks[f"{name}: union home copy"] = {"single": single["checksums"][name],
                                              "union": union["checksums"][name],
                                              "equal": union["checksums"][name] == single["checksums"][name]}
    for name in CROSS_SHARD:
        checks[f"{name}: rebuilt over the union"] = {
            "single": single["checksums"][name], "union": union["checksums"][name],
            "equal": union["checksums"][name] == single["checksums"][name]}
    for gate in ("gate_wallets_with_outcomes", "gate_bad_markets"):
        checks[f"{gate}: over the union"] = {"single": single["gates"][gate], "union": union["gates"][gate],
                                             "equal": union["gates"][gate] == single["gates"][gate]}
    per_shard: dict[str, Any] = {}
    overlap = []
    for s in shards:
        overlap.extend(set(per_shard) & set(s["market_totals"]))
        per_shard.update(s["market_totals"])
    checks["conservation per market: shards"] = {
        "markets": len(single["market_totals"]), "markets_on_two_shards": len(overlap),
        "equal": not overlap and per_shard == single["market_totals"]}
    return checks


def simulate(workdir: Path, scale: str, shards: int, jobs: int, repeat: int) -> dict[str, Any]:
    if workdir.exists():
        shutil.rmtree(workdir)
    single, sources, union = workdir / "single", workdir / "sources", workdir / "union"
    shard_homes = [workdir / f"shard-{k}" for k in range(shards)]
    shard_sources = [workdir / f"sources-{k}" for k in range(shards)]
    for directory in (single, sources, union, *shard_homes, *shard_sources):
        directory.mkdir(parents=True)
    out: dict[str, Any] = {"scale": scale, "shards": shards, "jobs": jobs, "repeat": repeat,
                           "machine": machine.describe(),
                           "loadavg_start": loadavg()}

    say(f"seeding {scale} in {single}")
    out["seed"] = enrich(single, "seed", "--scale", scale).stdout.strip()
    say("single home: enrich run --step all --fresh")
    out["single_run"] = timed_run(single)
    say(f"  {out['single_run']['seconds']} s")
    # the sources go out through export_relation, the code behind `enrich export NAME --out F`
    single_facts = worker(single, "facts", "--tables", *RESULTS, *CROSS_SHARD, "--ddl", *RESULTS, "--keys",
                          "--export", *SHARDED_SOURCES, *REPLICATED_SOURCES, "--export-dir", str(sources))
    keys = single_facts.pop("keys")
    out["source_rows"] = split_sources(sources, keys, shard_sources)
    per_shard = Counter(k % shards for k in keys.values())
    out["conditions_per_shard"] = [per_shard[k] for k in range(shards)]
    say(f"split by batch_key % {shards}: {out['source_rows']}")

    def one(index: int) -> dict[str, Any]:
        result = run_shard(shard_homes[index], shard_sources[index], shards)
        say(f"shard {index}: {result['run']['seconds']} s")
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        shard_facts = list(pool.map(one, range(shards)))
    say("union home: the shards' rows, wallet_accuracy rebuilt by dbt, gates")
    union_facts = union_home(union, sources, single_facts.pop("ddl"), shard_homes)

    out["checks"] = compare(single_facts, shard_facts, union_facts)
    runs = [[out["single_run"]], *[[s["run"]] for s in shard_facts]]
    for attempt in range(2, repeat + 1):
        # one home after another, so a burst of load elsewhere hits one attempt, not one home
        say(f"timing again ({attempt}/{repeat}): the single home, then each shard")
        for home, attempts in zip([single, *shard_homes], runs, strict=True):
            attempts.append(timed_run(home))
    out["single_run"] = fastest(runs[0])
    out["shard_runs"] = [fastest(r) for r in runs[1:]]
    out["rows"] = {name: {"single": single_facts["checksums"][name]["rows"],
                          "shards": [s["checksums"][name]["rows"] for s in shard_facts]}
                   for name in (*RESULTS, *CROSS_SHARD)}
    wallet_shards = Counter(w for s in shard_facts for w in s["wallets"])
    out["wallets"] = {"single": len(single_facts["wallets"]),
                      "per_shard": [len(s["wallets"]) for s in shard_facts],
                      "on_more_than_one_shard": sum(1 for n in wallet_shards.values() if n > 1)}
    out["gate3"] = {"single": single_facts["gates"]["gate_wallets_with_outcomes"],
                    "per_shard": [s["gates"]["gate_wallets_with_outcomes"] for s in shard_facts],
                    "union": union_facts["gates"]["gate_wallets_with_outcomes"]}
    out["union_gates_output"] = union_facts["gates_output"]
    # the raw figures behind the checks, so a reader (or the test) can recompute them
    out["checksums"] = {"single": single_facts["checksums"], "union": union_facts["checksums"],
                        "shards": [s["checksums"] for s in shard_facts]}
    out["loaded_source_rows"] = {"single": single_facts["source_rows"],
                                 "shards": [s["source_rows"] for s in shard_facts]}
    out["residues"] = [s["residues"] for s in shard_facts]
    out["market_totals"] = {"single": single_facts["market_totals"],
                            "shards": [s["market_totals"] for s in shard_facts]}
    out["loadavg_end"] = loadavg()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=["tiny", "reference", "10x"], default="reference")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=1,
                        help="shards run at once (1: one after another, so their times are comparable)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each home's run this many times, one home after another; fastest counts")
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / "runtime" / "shards",
                        help="scratch directory for the homes (emptied first)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    try:
        result = simulate(args.workdir.resolve(), args.scale, args.shards, args.jobs, args.repeat)
    except SimulationError as ex:
        print(f"bench.shards: {ex}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    runs = [result["single_run"], *result["shard_runs"]]
    say("runs (s): single " + ", ".join(
        f"{label} {r['seconds']} (cpu {r['cpu_seconds']}, D {r['step_D']}, E {r['step_E']})"
        for label, r in zip(["", *[f"shard {k}" for k in range(args.shards)]], runs, strict=True)))
    for name, check in result["checks"].items():
        say(f"{'EQUAL' if check['equal'] else 'DIFFERENT'}  {name}")
    return 0 if all(c["equal"] for c in result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
