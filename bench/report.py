"""The targets of issue 14 (and those of issue 6 it did not raise) against the measured figures,
and RESULTS.md."""

from __future__ import annotations

from typing import Any


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


def _warm(scale: dict[str, Any]) -> str:
    """The full run on sources it had already built from (the --changed scenario's --fresh), if any:
    it keeps int_flows_unioned, the quarantine and the key figures instead of building them."""
    full = scale.get("changed", {}).get("full")
    if not full:
        return ""
    return (f" This figure is the first run on newly loaded sources, which builds int_flows_unioned, the "
            f"quarantine and the key figures; a --fresh run on sources it has built from keeps them: "
            f"{full['seconds']:.1f} s ({_phases(full)}).")


def _end_to_end_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    ref = results["reference"]
    e2e = ref["end_to_end"]
    rows = [_row("reference_end_to_end", "reference end to end <= 10 s", f"{e2e['seconds']:.1f} s",
                 e2e["seconds"] <= 10,
                 f"{e2e['seconds'] / 10:.1f}x the target. Phases: {_phases(e2e)}.{_warm(ref)} "
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
                     f"{_warm(results['10x'])}"))
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


def _changed_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for scale in ("reference", "10x"):
        target = f"--changed after 1% new trades <= 10% of a full run at {scale}, tables equal"
        found = results.get(scale, {}).get("changed")
        if not found:
            rows.append(_missing(f"changed_{scale}", target,
                                 "skipped (--skip-changed) or no run at this scale"))
            continue
        run, full = found["changed"], found["full"]
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in grouped_phases(run).items())
        batches = f"{run['steps']['D']['batches']} + {run['steps']['E']['batches']} batches"
        fits = results.get("reference", {}).get("batch_overhead") or {}
        if fits:
            fixed = sum(fits[s]["fixed_seconds_per_batch"] * run["steps"][s]["batches"] for s in fits)
            batches += (f" (at the fixed cost per batch fitted at the reference scale, {fixed:.0f} s before "
                        "any pair is computed)")
        why = []
        if found["ratio"] > 0.10:
            why.append(f"{found['ratio'] / 0.10:.1f}x the target ({run['seconds']:.1f} s vs "
                       f"{full['seconds']:.1f} s): {run['changed_keys']}, rebuilt in {batches}. "
                       f"Phases: {phases}")
        if not found["tables_equal"]:
            why.append(f"tables differ from a full run's: {', '.join(found['tables_differing'])}")
        if not found["new_rows_all_valid"]:
            appended = found["appended"]["new_trade_rows"] + found["appended"]["new_ctf_rows"]
            why.append(f"of the {appended:,} rows appended, {found['new_flows_in_pnl']:,} reached pnl "
                       "(the rest were quarantined)")
        rows.append(_row(f"changed_{scale}", target,
                         f"{found['ratio']:.0%} ({run['seconds']:.1f} s vs {full['seconds']:.1f} s; "
                         f"{run['changed_keys']}); tables equal: {'yes' if found['tables_equal'] else 'NO'}",
                         not why, "; ".join(why) + "."))
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
    if ref:
        rows += _end_to_end_rows(results)
    rows += _big_rows(results)
    if ref:
        rows += _changed_rows(results)
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
                         seconds <= 360, f"{seconds / 360:.1f}x the target."))
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


def _load(results: dict[str, Any]) -> str:
    return (f"Load average (1, 5, 15 min): {results['load_average_start']} at the start, "
            f"{results['load_average_measuring']} when measuring began, {results['load_average_end']} at "
            "the end")


def _header(results: dict[str, Any]) -> list[str]:
    lines = [
        "# Benchmark results (issue 14)",
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
        lines.append(f"make bench-100x: {big['started_at']} to {big['finished_at']}, home {big['home']}. "
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
    for scale, found in (("reference", ref.get("changed")), ("10x", ten.get("changed"))):
        if found:
            runs += [(f"{scale}, --changed after 1% new trades", found["changed"]),
                     (f"{scale}, --fresh on the same data", found["full"])]
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


def _changed(results: dict[str, Any]) -> list[str]:
    lines = []
    for scale in ("reference", "10x"):
        found = results.get(scale, {}).get("changed")
        if not found:
            continue
        new = found["appended"]
        equal = "equal" if found["tables_equal"] else f"DIFFERENT ({', '.join(found['tables_differing'])})"
        lines.append(
            f"- {scale}: {new['new_trade_rows']:,} new trade rows (1% of {new['trades_raw_rows_before']:,}) "
            f"and {new['new_ctf_rows']:,} SPLIT legs on {new['existing_conditions']} open and "
            f"{new['new_conditions']} new conditions ({new['new_resolved_conditions']} of them resolved), "
            f"loaded with `enrich load --append` in {found['append_load_seconds']:.1f} s. "
            f"`--changed` {found['changed']['seconds']:.1f} s ({found['changed']['changed_keys']}), "
            f"`--fresh` {found['full']['seconds']:.1f} s: {found['ratio']:.0%}. Tables after --changed vs "
            f"after --fresh (row count and row hash, computed_at left out): {equal}. Gates after "
            f"--changed: {found['changed']['gates_summary']}; new flows in pnl: "
            f"{found['new_flows_in_pnl']:,} (all valid: {'yes' if found['new_rows_all_valid'] else 'NO'}). "
            f"Sources restored from their exports in {found['restore_seconds']:.1f} s.")
    if not lines:
        return []
    return ["", "## `enrich run --changed` after 1% new trades", "",
            "The new trades (bench/append.py) land on a few active markets: half the fills on 16 open "
            "conditions, half on 16 new ones (new markets_dim rows, half resolved with a one-winner payout "
            "after the last fill). Every fill has both legs and each seller first SPLITs what it sells, so "
            "the data stays a closed system and the gates pass. At most 32 of the 256 batch keys change "
            "at any scale.", "", *lines]


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
    lines = [*_header(results), *_end_to_end(results), *_big(results), *_changed(results)]
    ref = results.get("reference")
    if ref:
        lines += [*_where(ref), *_duckdb(ref), *_old(ref), *_peer(ref)]
    return "\n".join(lines) + "\n"
