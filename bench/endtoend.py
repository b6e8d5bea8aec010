"""End to end and single shot: `enrich run --step all --fresh` against a dbt build of every partition.

The runner's console log (timestamped lines) splits an end-to-end run into its phases; the
benchmark's own clock marks the process start and end, so the phases add up to the wall time.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bench.home import Home

BATCH_LINE = re.compile(r"step (\w) batch (\d+)/(\d+) keys (\d+)-(\d+) pairs (\d+) rows (\d+) ([\d.]+)s")
MARKS = {
    "begin": re.compile(r"^enrich run --step"),
    "upstream": re.compile(r"^building the upstream views"),
    "plan": re.compile(r"^plan "),
    "started": re.compile(r"^run \w+ started"),
    "D": re.compile(r"^step D complete"),
    "E": re.compile(r"^step E complete"),
}
FINAL_MODELS = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")


def parse_console(text: str) -> tuple[dict[str, datetime], list[dict[str, Any]]]:
    marks: dict[str, datetime] = {}
    batches: list[dict[str, Any]] = []
    for line in text.splitlines():
        stamp, _, message = line.partition(" ")
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        for name, pattern in MARKS.items():
            if name not in marks and pattern.search(message):
                marks[name] = at
        match = BATCH_LINE.search(message)
        if match:
            step, idx, total, lo, hi, pairs, rows, seconds = match.groups()
            batches.append({"step": step, "batch": int(idx), "of": int(total), "keys": [int(lo), int(hi)],
                            "pairs": int(pairs), "rows": int(rows), "seconds": float(seconds)})
    return marks, batches


def end_to_end(home: Home, postgres_url: str, batch_size: int | None = None) -> dict[str, Any]:
    """One fresh run of Steps D, E and the gates; wall time, peak RSS, and where the time went."""
    offset = home.console_log.stat().st_size if home.console_log.exists() else 0
    args = ["run", "--step", "all", "--fresh"]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    measured = home.enrich(*args, env={"POSTGRES_URL": postgres_url})
    with home.console_log.open() as fh:
        fh.seek(offset)
        marks, batches = parse_console(fh.read())
    missing = [name for name in MARKS if name not in marks]
    if missing:
        raise ValueError(f"the runner's console log has no {', '.join(missing)} line: {home.console_log}")
    pairs = home.worker("pairs")

    def span(a: datetime, b: datetime) -> float:
        return round((b - a).total_seconds(), 3)

    phases = {
        # interpreter, imports, lock, checkpoint files
        "startup": span(measured.started_at, marks["begin"]),
        # Postgres connect and migrations, reading the checkpoints
        "checkpoint_store": span(marks["begin"], marks["upstream"]),
        # dbt parse, the staging/intermediate views, the mutation wait, the plan query
        "parse_views_plan": span(marks["upstream"], marks["plan"]),
        "drop_models": span(marks["plan"], marks["started"]),
        "step_D": span(marks["started"], marks["D"]),
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
