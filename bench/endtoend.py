"""End to end and single shot: `enrich run --step all --fresh` against a dbt build of every partition.

The runner's events (`full-enrichment.events.jsonl`) split an end-to-end run into its phases; the
benchmark's own clock marks the process start and end, so the phases add up to the wall time.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bench.home import Home

FINAL_MODELS = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")


def parse_events(lines: list[str]) -> tuple[dict[str, datetime], list[dict[str, Any]]]:
    """The moments a run's phases ended, and its batches, from its events."""
    marks: dict[str, datetime] = {}
    batches: list[dict[str, Any]] = []
    for line in lines:
        event = json.loads(line)
        at = datetime.fromisoformat(event["ts"])
        kind = event["event"]
        name = {"run_started": "begin", "tables_dropped": "dropped", "planned": "plan"}.get(kind)
        if kind == "step_completed":
            name = event["step"]
        if name and name not in marks:
            marks[name] = at
        if kind == "batch_committed":
            batches.append({"step": event["step"], "batch": event["batch"], "of": event["batches"],
                            "keys": [event["key_lo"], event["key_hi"]], "pairs": event["pairs"],
                            "rows": event["rows"], "seconds": event["seconds"]})
    return marks, batches


def end_to_end(home: Home, postgres_url: str, batch_size: int | None = None,
               mode: str = "--fresh") -> dict[str, Any]:
    """One run of Steps D, E and the gates (`mode` --fresh, or --changed); wall time, peak RSS, and
    where the time went."""
    offset = home.events.stat().st_size if home.events.exists() else 0
    args = ["run", "--step", "all", mode]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    measured = home.enrich(*args, env={"POSTGRES_URL": postgres_url})
    with home.events.open() as fh:
        fh.seek(offset)
        marks, batches = parse_events(fh.read().splitlines())
    # only a fresh run drops the result tables
    needed = ("begin", "dropped", "plan", "D", "E") if mode == "--fresh" else ("begin", "plan", "D", "E")
    missing = [name for name in needed if name not in marks]
    if missing:
        raise ValueError(f"the run's events lack {', '.join(missing)}: {home.events}")
    pairs = home.worker("pairs")

    def span(a: datetime, b: datetime) -> float:
        return round((b - a).total_seconds(), 3)

    phases = {
        # interpreter, imports, lock, Postgres connect and migrations, the checkpoints, the decision
        "startup": span(measured.started_at, marks["begin"]),
        # dbt parse, --fresh's drop of the result tables
        "parse_drop_models": span(marks["begin"], marks.get("dropped", marks["begin"])),
        # the upstream models (flows table), the mutation wait, the per-key signatures and the plan
        # (with --changed also dbt's parse: there is no drop to mark its end)
        "upstream_plan": span(marks.get("dropped", marks["begin"]), marks["plan"]),
        "step_D": span(marks["plan"], marks["D"]),
        "step_E": span(marks["D"], marks["E"]),
        # dbt test of the gates, then exit
        "gates": span(marks["E"], measured.ended_at),
    }
    per_step = {}
    for step in ("D", "E"):
        rows = [b for b in batches if b["step"] == step]
        in_batches = sum(b["seconds"] for b in rows)
        per_step[step] = {
            "batches": len(rows),
            "batch_seconds": round(in_batches, 3),
            # checkpoint commits (local file + Postgres), progress, mutation waits; for E also the
            # wallet_accuracy finalize
            "between_batches_seconds": round(phases[f"step_{step}"] - in_batches, 3),
        }
    return {
        "batch_size": batch_size or "default",
        "mode": mode,
        # the gate table's last line: "6 passed, 0 warned, 0 failed"
        "gates_summary": next((line.strip() for line in reversed(measured.stdout.splitlines())
                               if re.search(r"\d+ passed, \d+ warned, \d+ failed", line)), None),
        # the runner's own line: "--changed: K of P keys changed since run ..."
        "changed_keys": next((line.split(": ", 1)[1].split(" since", 1)[0]
                              for line in measured.stdout.splitlines() if "--changed: " in line), None),
        "seconds": round(measured.seconds, 3),
        "steps_D_seconds": span(measured.started_at, marks["D"]),
        "steps_D_E_seconds": span(measured.started_at, marks["E"]),
        "pairs": pairs["pairs"],
        "resolved_pairs": pairs["resolved_pairs"],
        "pairs_per_second": round(pairs["pairs"] / measured.seconds, 1),
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "peak_tree_rss_mb": round(measured.peak_tree_rss_mb, 1),
        "maxrss_mb": round(measured.maxrss_mb, 1),
        "phases": phases,
        "steps": per_step,
        "batches": batches,
    }


def dbt_failure(output: str) -> str:
    """The first failure dbt reports: the 'Failure in model' line and the two lines after it."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in output.splitlines()]
    for number, line in enumerate(lines):
        if "Failure in model" in line:
            detail = " ".join(part.split("  ", 1)[-1].strip() for part in lines[number + 1 : number + 3])
            return f"{line.split('  ', 1)[-1]}: {detail}"[:400]
    return ""


def single_shot(home: Home, last_model: str) -> dict[str, Any]:
    """`last_model` and everything upstream built for every partition by one `dbt run`, from empty
    tables (as after --fresh). A failed build is recorded with dbt's error, not raised."""
    home.worker("drop")
    measured = home.dbt("run", "--select", f"+{last_model}", check=False)
    result: dict[str, Any] = {"select": f"+{last_model}", "seconds": round(measured.seconds, 3),
                              "peak_rss_mb": round(measured.peak_rss_mb, 1)}
    if measured.returncode != 0:
        failure = dbt_failure(measured.stdout + measured.stderr)
        result["error"] = failure or f"dbt exited {measured.returncode}"
    return result


def pnl_single_shot(home: Home) -> dict[str, Any]:
    """Step D's two models alone, single shot through dbt (upstream views already built)."""
    home.worker("drop", "--names", "pnl", "pnl_positions")
    measured = home.dbt("run", "--select", "pnl", "pnl_positions")
    return {"seconds": round(measured.seconds, 3)}
