"""Issue 19's refresh scenarios at one scale: `enrich run --changed` against a full run.

On a seeded home: a complete `--fresh` run (the baseline), then for each scenario
(bench.scenarios): apply it, time `enrich run --changed`, checksum the result tables, then time a
`--fresh` run on the same data, checksum again and compare. That fresh run is the full run the
scenario's ratio is taken against (same data, same minutes) and the complete run the next scenario
follows. Before it the tables a full run may keep when their sources did not change since they were
built (the flows table, the quarantine, the recorded digests, the key figures) are dropped: the
refresh just brought them up to date, and a full run reusing them would neither check them nor cost
what a full run on newly arrived data costs.

The scenarios change the home's sources; they are exported first and loaded back at the end, and
the seed marker is removed meanwhile, so a bench killed in between seeds the home again instead of
reusing changed data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import endtoend
from bench.home import Home
from bench.scenarios import SCENARIOS
from enrich.project import SOURCE_TABLES

# (ratio target, in percent of a full run on the same data) per scenario, issue 19
TARGETS = {"day": 10, "resolutions": 10, "corrections": 20, "nothing": 3}
DEFAULT_ORDER = ("day", "resolutions", "corrections", "nothing")
# the tables a --fresh run keeps when its sources are unchanged since it built them (source_current_table)
KEPT_BY_FRESH = ("int_flows_unioned", "quarantine", "int_source_digests_recorded",
                 "int_batch_keys_summarized")
# "--changed: 12 condition(s) changed since the last build, 40 in the refresh scope (0.2 s)"
REFRESH_LINE = re.compile(r"--changed: ([\d,]+) condition\(s\) changed since the last build, ([\d,]+) in the "
                          r"refresh scope")
NOOP_LINE = re.compile(r"the last run (\S+) is complete and nothing changed since")
GATES_LINE = re.compile(r"(\d+) passed, (\d+) warned, (\d+) failed")
# events a run that rebuilds nothing must not write
REBUILD_EVENTS = ("tables_dropped", "batch_committed", "planned", "step_completed")


def export_sources(home: Home, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in SOURCE_TABLES:
        home.enrich("export", name, "--out", str(directory / f"{name}.parquet"))


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _events_since(home: Home, offset: int) -> list[dict[str, Any]]:
    if not home.events.exists():
        return []
    with home.events.open() as fh:
        fh.seek(offset)
        return [json.loads(line) for line in fh.read().splitlines() if line.strip()]


def changed_run(home: Home, postgres_url: str) -> dict[str, Any]:
    """`enrich run --step all --changed`, timed: what it said it found, its gates, what it rebuilt
    (from its events), and where the time went when it ran dbt."""
    offset = home.events.stat().st_size if home.events.exists() else 0
    measured = home.enrich("run", "--step", "all", "--changed", env={"POSTGRES_URL": postgres_url})
    out_text = measured.stdout
    events = _events_since(home, offset)
    kinds = [e["event"] for e in events]
    refresh = REFRESH_LINE.search(out_text)
    noop = NOOP_LINE.search(out_text)
    gates = GATES_LINE.findall(out_text)
    result: dict[str, Any] = {
        "seconds": round(measured.seconds, 3),
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "exit_code": measured.returncode,
        "noop": noop is not None,
        "changed_conditions": _number(refresh.group(1)) if refresh else 0,
        "scope_conditions": _number(refresh.group(2)) if refresh else 0,
        "said": (refresh.group(0) if refresh else noop.group(0) if noop else None),
        "gates_summary": ", ".join(f"{p} passed, {w} warned, {f} failed" for p, w, f in gates[-1:]) or None,
        "gates_failed": int(gates[-1][2]) if gates else 0,
        "gates_kind": ("scoped" if "the gates checked the refreshed conditions" in out_text
                       else "none (no-op: the last run's gates)" if noop else "full"),
        "batches": {step: sum(1 for e in events if e["event"] == "batch_committed" and e.get("step") == step)
                    for step in ("D", "E")},
        "pairs": sum(int(e.get("pairs", 0)) for e in events
                     if e["event"] == "batch_committed" and e.get("step") == "D"),
        "rebuild_events": sorted({k for k in kinds if k in REBUILD_EVENTS}),
    }
    marks = {e["event"]: datetime.fromisoformat(e["ts"]) for e in reversed(events)}
    for e in events:
        if e["event"] == "step_completed":
            marks[f"step_{e['step']}"] = datetime.fromisoformat(e["ts"])
    if "run_started" in marks and "planned" in marks:
        def span(a: datetime, b: datetime) -> float:
            return round((b - a).total_seconds(), 3)
        done_d, done_e = marks.get("step_D", marks["planned"]), marks.get("step_E", marks["planned"])
        result["phases"] = {
            "startup": span(measured.started_at, marks["run_started"]),
            # dbt's parse, the change check, the scope, the upstream refresh and the plan
            "scope_upstream_plan": span(marks["run_started"], marks["planned"]),
            "step_D": span(marks["planned"], done_d),
            "step_E": span(done_d, done_e),
            "gates": span(done_e, measured.ended_at.astimezone(UTC)),
        }
    elif "nothing_changed" in marks:
        result["phases"] = {
            "to_decision": round((marks["nothing_changed"] - measured.started_at).total_seconds(), 3),
            "exit": round((measured.ended_at - marks["nothing_changed"]).total_seconds(), 3),
        }
    return result


def _full_summary(run: dict[str, Any]) -> dict[str, Any]:
    return {key: run[key] for key in ("seconds", "pairs", "peak_rss_mb", "phases", "steps", "gates_summary")}


def run_scenario(home: Home, postgres_url: str, name: str, folder: Path,
                 previous_fresh: dict[str, Any], previous_sums: dict[str, Any]) -> dict[str, Any]:
    """One scenario: apply it, --changed, compare with a --fresh run on the same data."""
    out: dict[str, Any] = {"scenario": name, "target_percent": TARGETS[name]}
    if name != "nothing":
        out["applied"] = home.worker("scenario", "--scenario", name, "--out", str(folder))
        if out["applied"]["files"]:
            out["load_seconds"] = round(home.enrich("load", str(folder), "--append").seconds, 3)
        if out["applied"]["corrections"]:
            out["correction"] = home.worker("correct", "--out", str(folder))
    parts_before = home.worker("parts")["parts"]
    out["changed"] = run = changed_run(home, postgres_url)
    out["checksums_changed"] = after_changed = home.worker("checksums")
    out["result_parts_unchanged"] = home.worker("parts")["parts"] == parts_before
    if name == "nothing":
        # the data did not change: the fresh run the scenario is compared with is the last one
        fresh_summary, after_fresh = previous_fresh, previous_sums
        out["full_source"] = "the --fresh run before (the same data)"
    else:
        home.worker("drop", "--names", *KEPT_BY_FRESH)
        fresh = endtoend.end_to_end(home, postgres_url)
        fresh_summary, after_fresh = _full_summary(fresh), home.worker("checksums")
        out["full_source"] = "a --fresh run on the same data, right after"
    out["full"] = fresh_summary
    out["checksums_full"] = after_fresh
    differ = sorted(t for t in after_fresh if after_changed.get(t) != after_fresh[t])
    ratio = run["seconds"] / fresh_summary["seconds"]
    out.update({
        "tables_differing": differ,
        "tables_equal": not differ,
        "gates_pass": run["exit_code"] == 0 and run["gates_failed"] == 0,
        "ratio": round(ratio, 4),
        "met": ratio <= TARGETS[name] / 100,
    })
    if name == "nothing":
        out["nothing_rebuilt"] = run["noop"] and not run["rebuild_events"] and out["result_parts_unchanged"]
    return out


def measure(home: Home, postgres_url: str, scenarios: tuple[str, ...] = DEFAULT_ORDER,
            say: Any = print, baseline: bool = True,
            keep: Callable[[dict[str, Any]], None] = lambda figures: None) -> dict[str, Any]:
    """Each of SCENARIOS after a complete run. BASELINE false: the home already holds a complete run of
    its seeded data (a bench stopped after its baseline), so none is made and `nothing` may not come
    first (it is compared with the --fresh run before it). KEEP gets the figures after each scenario,
    so a stopped bench keeps what it measured."""
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(sorted(unknown))}; one of {', '.join(SCENARIOS)}")
    if not baseline and scenarios[:1] == ("nothing",):
        raise ValueError("without a baseline run, the scenario `nothing` cannot come first")
    work = home.path.parent
    exports = work / "refresh-exports"
    export_sources(home, exports)
    out: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "scenarios": {}}
    seeded = home.unmark_seeded()
    try:
        fresh: dict[str, Any] = {}
        sums: dict[str, Any] = {}
        if baseline:
            say(f"{home.scale}: refresh baseline, a complete --fresh run")
            home.worker("drop", "--names", *KEPT_BY_FRESH)
            run = endtoend.end_to_end(home, postgres_url)
            out["baseline"] = fresh = _full_summary(run)
            sums = home.worker("checksums")
            say(f"  {run['seconds']:.1f} s, {run['pairs']:,} pairs")
        else:
            out["baseline"] = "the complete run the home held (--from-complete-run)"
        for name in scenarios:
            say(f"{home.scale}: scenario {name}, then enrich run --changed, then --fresh on the same data")
            result = run_scenario(home, postgres_url, name, work / "scenario" / name, fresh, sums)
            out["scenarios"][name] = result
            if name != "nothing":
                fresh, sums = result["full"], result["checksums_full"]
            run = result["changed"]
            say(f"  --changed {run['seconds']:.1f} s ({run['said']}; {run['batches']['D']} + "
                f"{run['batches']['E']} batches) vs --fresh {result['full']['seconds']:.1f} s: "
                f"{result['ratio']:.1%} (target {result['target_percent']}%); tables equal: "
                f"{result['tables_equal']}; gates: {run['gates_summary'] or run['gates_kind']}")
            keep(out)
    finally:
        # ctf_events' file is there, so the load replaces all four tables
        out["restore_seconds"] = round(home.enrich("load", str(exports)).seconds, 3)
        if seeded is not None:
            home.mark_seeded(seeded)
    out["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return out
