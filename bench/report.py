"""The targets of issues 14 and 19 (and those of issue 6 issue 14 did not raise) against the measured
figures, and RESULTS.md."""

from __future__ import annotations

from typing import Any

from bench.refresh import TARGETS


def _row(key: str, target: str, measured: str, ok: bool | None, why: str = "") -> dict[str, Any]:
    return {"key": key, "target": target, "measured": measured, "pass": ok, "why": "" if ok else why}


def _phases(e2e: dict[str, Any]) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in e2e["phases"].items())


def _profile(ref: dict[str, Any]) -> str:
    prof = ref.get("profile")
    if not prof:
        return "no instrumented run (--skip-profile)"
    ranked = sorted(prof["buckets_share"].items(), key=lambda kv: -kv[1])
    shares = ", ".join(f"{k} {v:.0%}" for k, v in ranked)
    return (f"Instrumented run ({prof['wall_seconds']:.0f} s): {shares}; per batch, dbt's framework "
            f"{prof['dbt_framework_seconds_per_batch']} s around {prof['engine_seconds_per_batch']} s of SQL")


def _overhead(ref: dict[str, Any]) -> str:
    fits = ref.get("batch_overhead") or {}
    return "; ".join(f"step {step} {fit['fixed_seconds_per_batch']:.2f} s fixed per batch + "
                     f"{fit['seconds_per_1000_pairs']:.3f} s per 1,000 pairs" for step, fit in fits.items())


def _batched_ratio(ref: dict[str, Any], run: dict[str, Any]) -> tuple[float, str, str]:
    """batched / single shot over Steps D and E, or over Step D when the D+E single shot failed."""
    both = ref["single_shot_D_E"]
    if "error" not in both:
        batched, single, scope = run["steps_D_E_seconds"], both["seconds"], "Steps D+E"
    else:
        batched, single, scope = run["steps_D_seconds"], ref["single_shot_D"]["seconds"], "Step D only"
    return batched / single, f"{batched:.1f} s / {single:.1f} s, {scope}", scope


def _batched_rows(ref: dict[str, Any]) -> list[dict[str, Any]]:
    e2e = ref["end_to_end"]
    ratio, detail, scope = _batched_ratio(ref, e2e)
    failed = ref["single_shot_D_E"].get("error")
    note = (f" The single shot of +wallet_accuracy failed ({failed}), so the ratio is over {scope}."
            if failed else "")
    rows = [_row("batched_vs_single_shot", "batched / single shot <= 1.5 (default batch size; issue 6)",
                 f"{ratio:.2f} ({detail})", ratio <= 1.5,
                 f"{ratio / 1.5:.2f}x the target: {e2e['steps']['D']['batches']} + "
                 f"{e2e['steps']['E']['batches']} batches each pay a fixed cost ({_overhead(ref)}); "
                 f"a single shot pays it once.{note}")]
    small = ref.get("end_to_end_batch300")
    if small:
        ratio300, detail300, _ = _batched_ratio(ref, small)
        rows.append(_row("batched_300_vs_single_shot", "batched at --batch-size 300 / single shot (reported)",
                         f"{ratio300:.2f} ({detail300}, {small['steps']['D']['batches']} batches per step)",
                         None))
    return rows


# The phases issue 14 names, from the end-to-end run's finer ones.
PHASE_GROUPS = {
    "startup": ("startup",),
    "upstream build and plan": ("parse_drop_models", "upstream_plan"),
    "Step D": ("step_D",),
    "Step E": ("step_E",),
    "gates": ("gates",),
}
RSS_LIMIT_MB = 16 * 1024


def grouped_phases(run: dict[str, Any]) -> dict[str, float]:
    return {name: sum(run["phases"].get(p, 0.0) for p in parts) for name, parts in PHASE_GROUPS.items()}


def _growth(small: dict[str, Any], big: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """The pairs ratio, and each phase's time ratio big / small; a phase the smaller run has no time
    for (figures from a bench that named its phases differently) is left out."""
    before, after = grouped_phases(small), grouped_phases(big)
    return big["pairs"] / small["pairs"], {k: after[k] / before[k] for k in before if before[k] > 0}


def _growth_row(key: str, label: str, small: dict[str, Any], big: dict[str, Any]) -> dict[str, Any]:
    linear, ratios = _growth(small, big)
    before, after = grouped_phases(small), grouped_phases(big)
    shown = ", ".join(f"{name} x{r:.1f} ({before[name]:.1f} -> {after[name]:.1f} s)"
                      for name, r in ratios.items())
    worse = [f"{name} x{r:.1f}" for name, r in ratios.items() if r > linear]
    return _row(key, f"every phase at {label} <= pairs ratio (x{linear:.1f})", shown, not worse,
                f"super-linear: {', '.join(worse)} against a pairs ratio of x{linear:.1f}.")


def _missing(key: str, target: str, how: str) -> dict[str, Any]:
    return _row(key, target, "not measured", False, f"not measured: {how}.")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}es"


def _end_to_end_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    ref = results["reference"]
    e2e = ref["end_to_end"]
    rows = [_row("reference_end_to_end", "reference end to end <= 10 s", f"{e2e['seconds']:.1f} s",
                 e2e["seconds"] <= 10,
                 f"{e2e['seconds'] / 10:.1f}x the target. Phases: {_phases(e2e)}. "
                 f"{_profile(ref)}. Batch cost fit: {_overhead(ref) or 'n/a'}.")]
    big = results.get("10x", {}).get("end_to_end")
    if not big:
        return [*rows, _missing("10x_end_to_end", "10x end to end <= 50 s",
                                "run with --scales reference,10x"),
                _missing("10x_growth", "every phase at 10x <= pairs ratio", "no 10x run")]
    batches = " + ".join(str(big["steps"][s]["batches"]) for s in ("D", "E"))
    rows.append(_row("10x_end_to_end", "10x end to end <= 50 s", f"{big['seconds']:.1f} s",
                     big["seconds"] <= 50,
                     f"{big['seconds'] / 50:.1f}x the target. Phases: {_phases(big)}; {batches} batches."
                     ))
    rows.append(_growth_row("10x_growth", "10x vs reference", e2e, big))
    return rows


def _big_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    big = results.get("100x", {})
    run = big.get("end_to_end")
    if not run:
        how = "make bench-100x has not run"
        return [_missing("100x_end_to_end", "100x end to end <= 15 min", how),
                _missing("100x_rss", "100x peak RSS <= 16 GB (process tree)", how),
                _missing("100x_growth", "every phase at 100x <= pairs ratio vs 10x", how)]
    minutes = run["seconds"] / 60
    rows = [_row("100x_end_to_end", "100x end to end <= 15 min",
                 f"{minutes:.1f} min ({run['seconds']:.0f} s, {run['pairs']:,} pairs)", run["seconds"] <= 900,
                 f"{run['seconds'] / 900:.1f}x the target. Phases: {_phases(run)}."),
            _row("100x_rss", "100x peak RSS <= 16 GB (process tree)",
                 f"{run['peak_rss_mb'] / 1024:.1f} GB", run["peak_rss_mb"] <= RSS_LIMIT_MB,
                 f"{run['peak_rss_mb'] / RSS_LIMIT_MB:.2f}x the limit.")]
    ten = big.get("10x_end_to_end")
    if ten:
        row = _growth_row("100x_growth", "100x vs 10x", ten, run)
        row["measured"] += f"; 10x from {big.get('10x_source')}"
        rows.append(row)
    else:
        rows.append(_missing("100x_growth", "every phase at 100x <= pairs ratio vs 10x",
                             "no 10x figures in results.json (run make bench first, or --measure-10x)"))
    return rows


REFRESH_SCALES = ("reference", "10x", "100x")
REFRESH_LABELS = {
    "day": "a day of trading (1% new fills on 30% of the open conditions)",
    "resolutions": "a batch of resolutions (1% of the conditions)",
    "corrections": "late and corrected rows (0.1% fees corrected in place, late fills)",
    "nothing": "nothing changed",
}


def _refresh_phases(run: dict[str, Any]) -> str:
    phases = run.get("phases")
    if not phases:
        return "no dbt (decided from metadata)"
    if "to_decision" in phases:
        return (f"no dbt: {phases['to_decision']:.1f} s from the process start to the decision (interpreter, "
                f"imports, lock, checkpoints, source metadata), {phases['exit']:.1f} s to exit")
    return ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in phases.items())


def _targets_at(scale: str) -> dict[str, int]:
    """Issue 19's ratio targets (percent of a full run); make bench-100x leaves the corrections out."""
    return {k: v for k, v in TARGETS.items() if scale != "100x" or k != "corrections"}


def _refresh_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 19: per scale and scenario, --changed as a share of a --fresh run on the same data,
    the tables equal to that run's and the gates passing. At reference the ratio is reported, not
    judged (the issue's targets are for 10x and 100x)."""
    rows = []
    for scale in REFRESH_SCALES:
        found = results.get(scale, {}).get("refresh")
        if not found:
            if scale != "reference":
                # the issue's targets are at 10x and 100x: unmeasured is a miss, not a silence
                how = ("make bench (or python -m bench --only refresh --scales 10x)" if scale == "10x"
                       else "make bench-100x")
                rows += [_missing(f"refresh_{name}_{scale}", f"refresh at {scale}, "
                                  f"{REFRESH_LABELS[name]}: --changed <= {percent}% of a full run",
                                  f"{how} has not run since the refresh")
                         for name, percent in _targets_at(scale).items()]
            continue
        for name, sc in found["scenarios"].items():
            run, full, target = sc["changed"], sc["full"], sc["target_percent"]
            judged = scale != "reference"
            label = f"refresh at {scale}, {REFRESH_LABELS.get(name, name)}: --changed"
            label += f" <= {target}% of a full run" if judged else " / full run (reported)"
            label += ", tables equal, gates pass" + (", no table rebuilt" if name == "nothing" else "")
            what = run["said"] or "?"
            measured = (f"{sc['ratio']:.1%} ({run['seconds']:.1f} s vs {full['seconds']:.1f} s; {what}; "
                        f"{run['batches']['D']} + {run['batches']['E']} batches); tables equal: "
                        f"{'yes' if sc['tables_equal'] else 'NO'}; "
                        f"gates: {run['gates_summary'] or run['gates_kind']}")
            if name == "nothing":
                measured += f"; rebuilt nothing: {'yes' if sc.get('nothing_rebuilt') else 'NO'}"
            why = []
            if judged and not sc["met"]:
                why.append(f"{sc['ratio'] * 100 / target:.1f}x the target ({run['seconds']:.1f} s vs "
                           f"{full['seconds']:.1f} s). Where --changed spent it: {_refresh_phases(run)}")
            if not sc["tables_equal"]:
                why.append(f"tables differ from the --fresh run's: {', '.join(sc['tables_differing'])}")
            if not sc["gates_pass"]:
                why.append(f"gates after --changed: {run['gates_summary']} (exit {run['exit_code']})")
            if name == "nothing" and not sc.get("nothing_rebuilt"):
                why.append(f"the no-op rebuilt something: events {run['rebuild_events']}, result parts "
                           f"unchanged: {sc['result_parts_unchanged']}")
            ok: bool | None = not why if (judged or why) else None
            rows.append(_row(f"refresh_{name}_{scale}", label, measured, ok, "; ".join(why) + "."))
        if scale != "reference":
            # a scenario the run left out is a miss with its reason (results.json's `not_measured`)
            reasons = found.get("not_measured", {})
            rows += [_missing(f"refresh_{name}_{scale}", f"refresh at {scale}, {REFRESH_LABELS[name]}: "
                              f"--changed <= {percent}% of a full run",
                              reasons.get(name, "this run left the scenario out"))
                     for name, percent in _targets_at(scale).items() if name not in found["scenarios"]]
    return rows


STARTUP_SCALES = ("reference", "10x")
STARTUP_LABELS = {"baseline": "`python -c 'import enrich.cli'` (the baseline)", "status": "`enrich status`",
                  "changed_noop": "`enrich run --changed`, nothing changed (no-op)"}


def _startup_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 22: `enrich status` starts within 1 s of the bare import of the CLI (judged on the
    fastest of each, like every figure here); the no-op --changed is reported."""
    rows = []
    for scale in STARTUP_SCALES:
        found = results.get(scale, {}).get("startup")
        if not found:
            if scale == "reference" and "reference" in results:
                rows.append(_missing("startup_status_reference", "cold start: `enrich status` within 1 s of "
                                     "`python -c 'import enrich.cli'` (reference)",
                                     "python -m bench --only startup --scales reference"))
            continue
        base, status, noop = found["baseline"], found["status"], found["changed_noop"]
        over = found["status_over_baseline_seconds"]
        margin = found["margin_seconds"]
        rows.append(_row(
            f"startup_status_{scale}",
            f"cold start: `enrich status` within {margin:g} s of `python -c 'import enrich.cli'` ({scale})",
            f"+{over['min']:.2f} s (status {status['min']:.2f} s vs import {base['min']:.2f} s, fastest of "
            f"{found['repeat']}; medians {status['median']:.2f} s vs {base['median']:.2f} s, "
            f"+{over['median']:.2f} s"
            + (f"; the first status after a change, which reads the engine, {reading:.2f} s"
               if (reading := found.get("status_reading_engine_seconds")) is not None else "")
            + ")", found["met"],
            f"{over['min'] - margin:.2f} s over the margin. Status opens the embedded engine on the home "
            "for the warehouse figures (row counts, pending mutations, quarantine) when its files changed "
            f"since the figures were last read; the no-op `run --changed`, which opens it, takes "
            f"{noop['min']:.2f} s. Load average at the end: {found.get('load_average_end')}."))
        changed = found["changed_over_baseline_seconds"]
        rows.append(_row(
            f"startup_changed_noop_{scale}",
            f"cold start: no-op `enrich run --changed` vs `python -c 'import enrich.cli'` "
            f"({scale}, reported)",
            f"+{changed['min']:.2f} s ({noop['min']:.2f} s vs {base['min']:.2f} s, fastest of "
            f"{found['repeat']}; medians {noop['median']:.2f} s vs {base['median']:.2f} s)", None))
    return rows


def _duckdb_rows(ref: dict[str, Any]) -> list[dict[str, Any]]:
    duck = ref.get("duckdb_peer")
    if not duck:
        return [_missing("step_d_vs_duckdb", "our Step D <= 1.5x the DuckDB peer's",
                         "skipped (--skip-duckdb)")]
    ours = ref["end_to_end"]["phases"]
    step_d, peer_d = ours["step_D"], duck["step_D_seconds"]
    ratio = step_d / peer_d
    upstream = ours["upstream_plan"]
    step_d_batches = ref["end_to_end"]["steps"]["D"]
    check = duck["check"]
    lens = " Our Step D also computes the average-cost lens (section 8); the peer does not."
    return [
        _row("step_d_vs_duckdb", "our Step D <= 1.5x the DuckDB peer's (pnl + pnl_positions persisted)",
             f"{ratio:.1f}x ({step_d:.2f} s vs {peer_d:.2f} s)", ratio <= 1.5,
             f"{ratio / 1.5:.1f}x the target. Ours: {_plural(step_d_batches['batches'], 'batch')}, "
             f"{step_d_batches['batch_seconds']:.1f} s in them.{lens}"),
        _row("flows_vs_duckdb", "our upstream build and plan vs the DuckDB peer's flows table (reported)",
             f"{upstream / duck['flows_seconds']:.1f}x ({upstream:.2f} s vs {duck['flows_seconds']:.2f} s; "
             "ours also validates the sources and computes the per-key signatures and the plan)", None),
        _row("duckdb_check", "DuckDB pair P&L equals ours: mismatching pairs = 0",
             f"{check['mismatches']} of {check['pairs_ours']:,} pairs ({check['resolved_pairs_compared']:,} "
             "resolved compared exactly)", check["mismatches"] == 0,
             f"see results.json reference.duckdb_peer.check: {check['examples']}"),
    ]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 14's targets (and the issue-6 ones it did not raise), met or missed with the reason."""
    rows: list[dict[str, Any]] = []
    ref = results.get("reference")
    if ref and "end_to_end" not in ref:
        # `--only refresh` or `--only startup` into a results.json without a full bench: their rows alone
        return _refresh_rows(results) + _startup_rows(results)
    if ref:
        rows += _end_to_end_rows(results)
        rows += _startup_rows(results)
    rows += _big_rows(results)
    if ref:
        rows += _refresh_rows(results)
        rows += _duckdb_rows(ref)
        check = ref["peer"]["check"]
        rows.append(_row("peer_check", "independent P&L check (polars): mismatching pairs = 0",
                         f"{check['mismatches']} of {check['pairs_ours']:,} pairs", check["mismatches"] == 0,
                         f"see results.json reference.peer.check: {check['examples']}"))
        rows += _lens_rows(ref)
    seconds = results.get("make_test_seconds")
    if seconds is None:
        rows.append(_missing("make_test", "make test <= 6 min wall",
                             "pass --make-test-seconds (make bench MAKE_TEST_SECONDS=...)"))
    else:
        rows.append(_row("make_test", "make test <= 6 min wall", f"{seconds / 60:.1f} min ({seconds:.0f} s)",
                         seconds <= 360, f"{seconds / 360:.1f}x the target. Most of what is left is the "
                         "tests about process boundaries (a new Python, dbt's imports and a parse per child "
                         "process) and dbt's work per node in every command, not the data."))
    if ref:
        rows += _issue6_rows(ref)
    return rows


def _lens_rows(ref: dict[str, Any]) -> list[dict[str, Any]]:
    lens = ref.get("lens")
    if not lens:
        return [_missing("lens_share", "average-cost lens <= 25% of Step D's engine time", "no lens run")]
    return [_row("lens_share", "average-cost lens <= 25% of Step D's engine time",
                 f"{lens['share']:.0%} of the engine's CPU time (median of "
                 f"{len(lens['pair_shares'])} back-to-back runs with and without the lens of the "
                 f"pnl + pnl_positions SQL: {', '.join(f'{x:.0%}' for x in lens['pair_shares'])}; "
                 f"fastest {lens['cpu_with_seconds']:.2f} s vs {lens['cpu_without_seconds']:.2f} s "
                 f"CPU; wall time share {lens['wall_share']:.0%})", lens["share"] <= 0.25,
                 f"{lens['share'] / 0.25:.1f}x the target: the lens groups every position's flows, "
                 "sorts them and replays them (arrayFold) in integer arithmetic.")]


def _issue6_rows(ref: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 6's targets that issue 14 did not raise, and its polars-peer SQL comparison (reported)."""
    e2e = ref["end_to_end"]
    rows = _batched_rows(ref)
    old = ref.get("old_approach")
    if old:
        speedup = old["extrapolated_seconds"] / e2e["seconds"]
        speedup_d = old["extrapolated_seconds"] / e2e["phases"]["step_D"]
        rows.append(_row("old_approach", ">= 500x faster than one mutation per trade (issue 6)",
                         f"{speedup:,.0f}x ({old['extrapolated_seconds']:,.0f} s extrapolated vs "
                         f"{e2e['seconds']:.1f} s end to end; {speedup_d:,.0f}x vs Step D alone)",
                         speedup >= 500,
                         f"{old['seconds_per_mutation'] * 1000:.0f} ms per mutation; ours end to end "
                         f"{e2e['seconds']:.1f} s."))
    else:
        rows.append(_missing("old_approach", ">= 500x faster than one mutation per trade (issue 6)",
                             "skipped (--skip-old)"))
    sql, peer_seconds = ref["pnl_sql"]["seconds"], ref["peer"]["seconds"]
    runs = ref["pnl_sql"]["runs"]
    rows.append(_row("sql_vs_polars", "our P&L SQL vs the polars peer (reported; issue 14 compares with "
                     "DuckDB)", f"{sql / peer_seconds:.1f}x ({sql:.2f} s vs {peer_seconds:.2f} s: pnl "
                     f"{min(runs['pnl']):.2f} s + pnl_positions {min(runs['pnl_positions']):.2f} s; the "
                     "peer's "
                     "computation in ClickHouse "
                     f"SQL, unvalidated and unpersisted, {ref['pnl_sql']['minimal_seconds']:.2f} s)", None))
    return rows


def _status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "**miss**")


_UNFINISHED = "not recorded (a run stopped before its end keeps the figures written so far)"


def _load(results: dict[str, Any]) -> str:
    return (f"Load average (1, 5, 15 min): {results['load_average_start']} at the start, "
            f"{results['load_average_measuring']} when measuring began, "
            f"{results.get('load_average_end', _UNFINISHED)} at the end")


def _header(results: dict[str, Any]) -> list[str]:
    lines = [
        "# Benchmark results (issues 14, 19 and 22)",
        "",
        "Generated by `make bench` (`python -m bench`; `--scales reference --skip-batch300` for a quick "
        "pass, `--report-only` to rewrite this file from `results.json`) and `make bench-100x` "
        "(`python -m bench --100x`, its figures under `100x`); every figure is in `bench/results.json`, "
        "every command's output in the bench log under `bench/work/`.",
    ]
    info = results.get("machine")
    if info and "started_at" in results:
        versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        lines.append(f"make bench: {results['started_at']} to {results['finished_at']} on {info['nproc']} "
                     f"CPUs ({info['cpu_model']}), {info['memory_gb']} GB. {_load(results)}. "
                     f"Versions: {versions}.")
    big = results.get("100x")
    if big:
        lines.append(f"make bench-100x: {big['started_at']} to {big.get('finished_at', _UNFINISHED)}, "
                     f"home {big['home']}. "
                     f"{_load(big)}.")
    lines += ["", "| target | measured | result |", "|---|---|---|"]
    lines += [f"| {r['target']} | {r['measured']} | {_status(r['pass'])} |" for r in results["targets"]]
    misses = [r for r in results["targets"] if r["pass"] is False]
    if misses:
        lines += ["", "## Misses: by how much and why", ""]
        lines += [f"- **{r['target']}**: {r['why']}" for r in misses]
    return lines


def _runs(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    ref, ten, big = results.get("reference", {}), results.get("10x", {}), results.get("100x", {})
    runs = []
    if "end_to_end" in ref:
        runs.append(("reference", ref["end_to_end"]))
    if "end_to_end_batch300" in ref:
        runs.append(("reference, --batch-size 300", ref["end_to_end_batch300"]))
    if "end_to_end" in ten:
        runs.append(("10x", ten["end_to_end"]))
    if "end_to_end" in big:
        runs.append(("100x (make bench-100x)", big["end_to_end"]))
    for scale, found in (("reference", ref.get("refresh")), ("10x", ten.get("refresh")),
                         ("100x", big.get("refresh"))):
        # a baseline is a run's figures, or a sentence when the bench started from a complete run
        if found and isinstance(found["baseline"], dict):
            runs.append((f"{scale}, refresh baseline (--fresh, upstream tables dropped)", found["baseline"]))
    return runs


def _end_to_end(results: dict[str, Any]) -> list[str]:
    runs = _runs(results)
    if not runs:
        return []
    phases = list(PHASE_GROUPS)
    lines = ["", "## End to end (`enrich run --step all`, Postgres checkpoints)", "",
             "Phases in seconds, from the runner's events and the benchmark's clock (upstream build and "
             "plan includes dbt's parse and --fresh's drop). Peak RSS is the process tree's.", "",
             "| run | wall s | pairs | peak RSS MB | " + " | ".join(phases) + " |",
             "|---" * (4 + len(phases)) + "|"]
    for name, run in runs:
        cells = [name, f"{run['seconds']:.1f}", f"{run['pairs']:,}", f"{run['peak_rss_mb']:,.0f}",
                 *(f"{v:.1f}" for v in grouped_phases(run).values())]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Per step: seconds inside the batches, and between them (checkpoints, mutation waits, "
              "the finalize model):", ""]
    for name, run in runs:
        for step, fig in run["steps"].items():
            between = fig["between_batches_seconds"]
            lines.append(f"- {name} step {step}: {_plural(fig['batches'], 'batch')}, "
                         f"{fig['batch_seconds']:.1f} s in batches, {between:.1f} s between")
    return lines


def _describe_change(sc: dict[str, Any]) -> str:
    applied = sc.get("applied")
    if not applied:
        return "no change"
    fig = applied["figures"]
    name = sc["scenario"]
    if name == "day":
        return (f"{fig['new_trade_rows']:,} trade rows ({fig['transactions']:,} transactions copied, 1% of "
                f"{fig['trade_rows_before']:,}) on {fig['conditions']:,} of {fig['open_conditions']:,} open "
                "conditions")
    if name == "resolutions":
        return f"{fig['resolved']:,} of {fig['conditions']:,} conditions resolved"
    if name == "corrections":
        return (f"{fig['corrected_rows']:,} fees corrected on {fig['corrected_conditions']:,} conditions "
                f"(0.1% of {fig['trade_rows_before']:,}), {fig['late_trade_rows']:,} late trade rows")
    return str(fig)


def _refresh(results: dict[str, Any]) -> list[str]:
    lines = []
    for scale in REFRESH_SCALES:
        found = results.get(scale, {}).get("refresh")
        if not found:
            continue
        base = found["baseline"]
        baseline = (f"a complete `--fresh` run, {base['seconds']:.1f} s, {base['pairs']:,} pairs"
                    if isinstance(base, dict) else base)
        lines += ["", f"### {scale}: {found['started_at']} to {found.get('finished_at', _UNFINISHED)}", "",
                  f"Baseline: {baseline}. Load average at the end: "
                  f"{found.get('load_average_end', _UNFINISHED)}.", "",
                  "| scenario | change | `--changed` s | found | batches D + E | `--fresh` s | ratio | "
                  "target | tables equal | gates after `--changed` | where `--changed` spent it |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, sc in found["scenarios"].items():
            run = sc["changed"]
            target = f"<= {sc['target_percent']}%" + ("" if scale != "reference" else " (at 10x, 100x)")
            lines.append(" | ".join([
                f"| {name}", _describe_change(sc), f"{run['seconds']:.1f}",
                ("nothing (metadata)" if run["noop"] else
                 f"{run['changed_conditions']:,} changed, {run['scope_conditions']:,} in scope"),
                f"{run['batches']['D']} + {run['batches']['E']}", f"{sc['full']['seconds']:.1f}",
                f"{sc['ratio']:.1%}", target, "yes" if sc["tables_equal"] else "**NO**",
                (f"{run['gates_summary']} ({run['gates_kind']})" if run["gates_summary"]
                 else run["gates_kind"]),
                _refresh_phases(run) + " |"]))
    if not lines:
        return []
    return ["", "## Refresh: `enrich run --changed` after each scenario (issue 19)", "",
            "bench/refresh.py: after a complete run, each scenario (bench/scenarios.py) is applied as an "
            "operator would (`enrich load --append` of CSV files written from the current sources; fee "
            "corrections with `ALTER TABLE trades_raw UPDATE`), `enrich run --changed` is timed, then "
            "the tables a full run may keep (flows, quarantine, digests, key figures) are dropped and "
            "a `--fresh` run on the same data is timed: the ratio's denominator, and the reference the "
            "result tables (pnl, pnl_positions, wallet_resolution_outcomes, wallet_accuracy, "
            "wallet_category_accuracy, quarantine: row count and a hash of every row, computed_at left "
            "out) must equal. `nothing` is compared with the --fresh run before it (the same data). "
            "Phases of `--changed` from its events: startup (interpreter, imports, checkpoints), scope "
            "upstream plan (dbt's parse, the change check, the scope, the scoped upstream refresh, the "
            "plan), steps D and E, gates.", *lines]


def _startup(results: dict[str, Any]) -> list[str]:
    lines = []
    for scale in STARTUP_SCALES:
        found = results.get(scale, {}).get("startup")
        if not found:
            continue
        lines += ["", f"### {scale}: {found['started_at']} to {found['finished_at']}", "",
                  "| command | fastest s | median s | runs s |", "|---|---|---|---|"]
        for name, label in STARTUP_LABELS.items():
            fig = found[name]
            lines.append(f"| {label} | {fig['min']:.2f} | {fig['median']:.2f} | "
                         f"{', '.join(f'{x:.2f}' for x in fig['runs'])} |")
        lines.append(f"\nLoad average at the end: {found.get('load_average_end')}.")
    if not lines:
        return []
    return ["", "## Cold start (issue 22)", "",
            "bench/startup.py: on the home after a complete run (its checkpoint in Postgres too), each "
            "repetition starts three new processes in turn: the interpreter importing `enrich.cli` (the "
            "baseline), `enrich status`, and `enrich run --changed` with nothing changed (decided from "
            "metadata, no dbt). Wall time from the bench's clock, the interpreter's start included.",
            *lines]


def _duckdb(ref: dict[str, Any]) -> list[str]:
    duck = ref.get("duckdb_peer")
    if not duck:
        return []
    check = duck["check"]
    return ["", "## Like-for-like peer (DuckDB, persisted tables, from the same Parquet exports)", "",
            f"DuckDB {duck['duckdb']} ({duck['threads']} threads): the sources loaded into a database file "
            f"untimed ({duck['load_seconds_untimed']:.1f} s), then `flows` (trade and ctf legs with their "
            f"payout, like int_flows_unioned) {duck['flows_seconds']:.2f} s and Step D (`pnl`, every flow's "
            "exact P&L, + `pnl_positions` per pair, checkpointed into the file) "
            f"{duck['step_D_seconds']:.2f} s, "
            f"min of {len(duck['runs'])}. Ours: upstream build and plan (after dbt's parse) "
            f"{ref['end_to_end']['phases']['upstream_plan']:.2f} s, Step D "
            f"{ref['end_to_end']['phases']['step_D']:.2f} s (end-to-end run). The peer does not validate "
            "(no quarantine) and does not compute the average-cost lens; ours does both. Check: "
            f"{check['pairs_peer']:,} peer pairs, {check['pairs_ours']:,} ours, {check['mismatches']} "
            f"mismatches (largest difference {check['max_abs_difference']})."]


def _big(results: dict[str, Any]) -> list[str]:
    big = results.get("100x")
    if not big or "end_to_end" not in big:
        return []
    run = big["end_to_end"]
    lines = ["", "## 100x (`make bench-100x`)", "",
             f"Seed: {big['seed'].get('summary')} "
             f"({'reused' if big['seed'].get('reused') else 'seeded now'})."
             f" One end-to-end run: {run['seconds']:.0f} s, peak RSS {run['peak_rss_mb']:,.0f} MB (process "
             "tree), "
             f"{run['pairs']:,} pairs."]
    ten = big.get("10x_end_to_end")
    if ten:
        linear, ratios = _growth(ten, run)
        lines.append(f"Against 10x ({big.get('10x_source')}; pairs x{linear:.1f}): " + ", ".join(
            f"{name} x{r:.1f}" for name, r in ratios.items()) + ".")
    return lines


def _where(ref: dict[str, Any]) -> list[str]:
    lines = ["", "## Where the time goes", ""]
    for key in ("single_shot_D", "single_shot_D_E"):
        shot = ref[key]
        outcome = f"failed: {shot['error']}" if "error" in shot else "ok"
        lines.append(f"- Single shot `dbt run --select {shot['select']}`: {shot['seconds']:.1f} s "
                     f"({outcome}).")
    lines.append(f"- Fixed cost per batch (least squares over the batches above): {_overhead(ref) or 'n/a'}.")
    prof = ref.get("profile")
    if prof:
        lines.append(f"- One instrumented end-to-end run ({prof['wall_seconds']:.1f} s, timers on the engine "
                     "calls, dbt invocations, parse and checkpoints in every thread):")
        lines += [f"  - {k}: {v:.1f} s ({prof['buckets_share'][k]:.0%})"
                  for k, v in prof["buckets_seconds"].items()]
        lines.append(f"  - per batch invocation ({prof['batch_invocations']}): dbt framework "
                     f"{prof['dbt_framework_seconds_per_batch']} s, "
                     f"engine SQL {prof['engine_seconds_per_batch']} s")
        others = [i for i in prof["invocations"] if not i["batch"]]
        lines.append("  - other dbt invocations: " + ", ".join(
            f"{i['command']} {i['seconds']:.1f} s (SQL {i['engine_seconds']:.1f} s)" for i in others))
        lines += ["", "Slowest statements of that run (grouped, numbers and ids elided):", "",
                  "| seconds | calls | statement |", "|---|---|---|"]
        lines += [f"| {t['seconds']:.2f} | {t['calls']} | {t['sql'].replace('|', '/').replace('`', '')} |"
                  for t in prof["top_statements"]]
    return lines


def _old(ref: dict[str, Any]) -> list[str]:
    old = ref.get("old_approach")
    if not old:
        return []
    return ["", "## Old approach (one `ALTER TABLE ... UPDATE` per trade)", "",
            f"{old['sample_pairs']} sampled pairs of {old['total_pairs']:,}, {old['batches']} batch(es) of "
            f"300 pairs, {old['mutations']:,} mutations in {old['seconds']:.1f} s "
            f"({old['seconds_per_mutation'] * 1000:.0f} ms each; reading the trades "
            f"{old['fetch_seconds']:.1f} s, waiting for the queue {old['queue_wait_seconds']:.1f} s), "
            f"extrapolated linearly to {old['extrapolated_seconds']:,.0f} s for all pairs. The mutated "
            f"values agree with `pnl` ({old['pnl_mismatches_vs_pnl_model']} differences)."]


def _peer(ref: dict[str, Any]) -> list[str]:
    peer, check = ref["peer"], ref["peer"]["check"]
    return ["", "## In-memory peer (polars, exact Decimal arithmetic, from the Parquet exports)", "",
            f"Peer {peer['seconds']:.2f} s (min of {len(peer['runs'])}, Parquet read included); our "
            f"pnl + pnl_positions SQL {ref['pnl_sql']['seconds']:.2f} s (compiled model SQL, min of each), "
            f"the peer's own computation in ClickHouse SQL {ref['pnl_sql']['minimal_seconds']:.2f} s, "
            f"{ref['pnl_dbt_single_shot']['seconds']:.1f} s through `dbt run`. Check: "
            f"{check['pairs_peer']:,} peer pairs, {check['pairs_ours']:,} ours, "
            f"{check['resolved_pairs_compared']:,} resolved pairs compared, {check['mismatches']} "
            f"mismatches (largest |ours x S - N|: {check['max_abs_difference_times_s']})."]


def markdown(results: dict[str, Any]) -> str:
    lines = [*_header(results), *_end_to_end(results), *_big(results), *_refresh(results),
             *_startup(results)]
    ref = results.get("reference")
    if ref and "end_to_end" in ref:
        lines += [*_where(ref), *_duckdb(ref), *_old(ref), *_peer(ref)]
    return "\n".join(lines) + "\n"
