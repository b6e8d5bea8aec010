"""Where the time goes: one instrumented end-to-end run, and the fixed cost of a batch.

The instrumented run (bench.instrument) splits the wall time into: interpreter start and imports,
checkpoints (local file and Postgres), dbt's project parse, engine SQL issued by dbt, dbt's own
framework per invocation (selection, Jinja, materializations, result objects), the runner's own
SQL (plan, row counts, mutation waits) and the rest of the runner's Python.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench import proc
from bench.home import BenchError, Home
from enrich.config import PROJECT_DIR


def instrumented_run(home: Home, postgres_url: str) -> dict[str, Any]:
    out = home.path / "bench-instrumented.json"
    argv = [sys.executable, "-m", "bench.instrument", str(out), "--home", str(home.path),
            "run", "--step", "all", "--fresh"]
    measured = proc.run(argv, env=home.env({"POSTGRES_URL": postgres_url}), cwd=PROJECT_DIR, log=home.log)
    if measured.returncode != 0:
        raise BenchError(f"instrumented enrich run exited {measured.returncode}: {measured.stderr[-2000:]}")
    timings = json.loads(out.read_text())
    buckets = {"interpreter_and_imports": measured.seconds - timings["main_seconds"],
               **timings["buckets_seconds"]}
    batches = [i for i in timings["invocations"] if i["batch"]]
    framework = [i["seconds"] - i["engine_seconds"] for i in batches]
    return {
        "wall_seconds": round(measured.seconds, 3),
        "buckets_seconds": {k: round(v, 3) for k, v in buckets.items()},
        "buckets_share": {k: round(v / measured.seconds, 3) for k, v in buckets.items()},
        "batch_invocations": len(batches),
        "dbt_framework_seconds_per_batch": round(sum(framework) / len(framework), 3) if framework else None,
        "engine_seconds_per_batch": (round(sum(i["engine_seconds"] for i in batches) / len(batches), 3)
                                     if batches else None),
        "invocations": timings["invocations"],
        "top_statements": timings["top_statements"],
        "engine_calls": timings["calls"].get("engine_sql", 0),
    }


def batch_overhead(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Least-squares fit seconds = fixed + per_pair * pairs over the batches of the runs, per step."""
    fits = {}
    for step in ("D", "E"):
        points = [(b["pairs"], b["seconds"]) for run in runs for b in run["batches"] if b["step"] == step]
        sizes = [x for x, _ in points]
        # with batches of one size the fit cannot tell a fixed cost from a per-pair one
        if not sizes or max(sizes) < 2 * min(sizes):
            continue
        n = len(points)
        mean_x = sum(x for x, _ in points) / n
        mean_y = sum(y for _, y in points) / n
        slope = (sum((x - mean_x) * (y - mean_y) for x, y in points)
                 / sum((x - mean_x) ** 2 for x, _ in points))
        fits[step] = {"fixed_seconds_per_batch": round(mean_y - slope * mean_x, 3),
                      "seconds_per_1000_pairs": round(slope * 1000, 4), "batches": n}
    return fits
