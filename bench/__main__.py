"""`python -m bench`: every measurement of issues 6, 14 and 19 in one run, written to results.json and
RESULTS.md. `python -m bench --100x` (make bench-100x) adds the 100x run under its own key.
`python -m bench --only refresh` measures issue 19's refresh scenarios alone and keeps every other
figure of results.json; `--only startup` likewise issue 22's cold start of `enrich status` and of a
no-op `enrich run --changed`.

The machine is shared, so the figures that matter are ratios of runs made side by side here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import breakdown, duckpeer, endtoend, machine, peer, refresh, report, startup
from bench.home import BenchError, Home
from bench.pgdb import throwaway_database

BENCH_DIR = Path(__file__).resolve().parent


def say(line: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {line}", flush=True)


def reference_suite(home: Home, pg_url: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    parquet = home.path.parent / "parquet"
    # batched and single shot alternate, and the fastest of each counts: the machine is shared
    runs: dict[str, list[dict[str, Any]]] = {"end_to_end": [], "single_shot_D": [], "single_shot_D_E": []}
    for attempt in range(args.repeat):
        say(f"reference: end to end, default batch size ({attempt + 1}/{args.repeat})")
        runs["end_to_end"].append(run := endtoend.end_to_end(home, pg_url))
        say(f"  {run['seconds']} s, {run['pairs']:,} pairs")
        if attempt == 0:
            # the sources, and the batched run's P&L for the peers' checks
            refresh.export_sources(home, parquet)
            home.enrich("export", "pnl_positions", "--out", str(parquet / "pnl_positions.parquet"))
        for step, last_model in (("D", "pnl_positions"), ("D_E", "wallet_accuracy")):
            say(f"reference: single shot dbt run of +{last_model}")
            runs[f"single_shot_{step}"].append(shot := endtoend.single_shot(home, last_model))
            say(f"  {shot['seconds']} s" + (f", FAILED: {shot['error']}" if "error" in shot else ""))
    for key, attempts in runs.items():
        out[key] = min(attempts, key=lambda r: r["seconds"])
        out[f"{key}_attempts_seconds"] = [r["seconds"] for r in attempts]
    if not args.skip_batch300:
        say("reference: end to end at --batch-size 300 (hundreds of batches: the long one)")
        out["end_to_end_batch300"] = endtoend.end_to_end(home, pg_url, batch_size=300)
        say(f"  {out['end_to_end_batch300']['seconds']} s")
    if not args.skip_old:
        say(f"reference: old approach, one mutation per trade, sample of {args.old_sample} pairs")
        out["old_approach"] = home.worker("oldway", "--sample-pairs", str(args.old_sample))
        say(f"  {out['old_approach']['mutations']} mutations in {out['old_approach']['seconds']:.1f} s, "
            f"extrapolated {out['old_approach']['extrapolated_seconds']:.0f} s")
    say("reference: polars peer and our P&L SQL")
    times, result = peer.measure(parquet, args.repeat_sql)
    check = peer.compare(result, parquet / "pnl_positions.parquet")
    out["peer"] = {"seconds": min(times), "runs": times, "check": check}
    out["pnl_dbt_single_shot"] = endtoend.pnl_single_shot(home)
    home.dbt("compile", "--select", "pnl", "pnl_positions")
    compiled = home.path / "dbt" / "bench-target" / "compiled" / "enrich" / "models" / "marts"
    out["pnl_sql"] = home.worker("sql", "--compiled", str(compiled), "--repeat", str(args.repeat_sql))
    say(f"  peer {min(times):.2f} s, our SQL {out['pnl_sql']['seconds']:.2f} s, "
        f"mismatches {check['mismatches']}")
    if not args.skip_duckdb:
        say("reference: DuckDB peer (flows, pnl, pnl_positions as persisted tables)")
        out["duckdb_peer"] = duckpeer.measure(parquet, parquet / "peer.duckdb", args.repeat_sql)
        duck = out["duckdb_peer"]
        say(f"  Step D {duck['step_D_seconds']:.2f} s (ours {out['end_to_end']['phases']['step_D']:.2f} s), "
            f"flows {duck['flows_seconds']:.2f} s, mismatches {duck['check']['mismatches']}")
    say("reference: Step D's SQL with and without the average-cost lens")
    out["lens"] = lens_share(home, compiled, args.repeat_sql)
    say(f"  lens share {out['lens']['share']:.0%} of the engine's CPU time (median of back-to-back "
        f"pairs {out['lens']['pair_shares']}; wall time share {out['lens']['wall_share']:.0%})")
    if not args.skip_profile:
        say("reference: instrumented end to end run (where the time goes)")
        out["profile"] = breakdown.instrumented_run(home, pg_url)
    runs = [out["end_to_end"], *([out["end_to_end_batch300"]] if "end_to_end_batch300" in out else [])]
    out["batch_overhead"] = breakdown.batch_overhead(runs)
    return out


def lens_share(home: Home, compiled: Path, repeat: int) -> dict[str, Any]:
    """Step D's compiled SQL timed with the lens (`compiled`) and without it (var avg_cost_lens
    false, compiled into a target folder of its own), alternately in one worker."""
    target = home.path / "dbt" / "bench-target-without-lens"
    home.enrich("dbt", "compile", "--select", "pnl", "pnl_positions", "--vars", "{avg_cost_lens: false}",
                "--target-path", str(target), "--log-path", str(home.path / "dbt" / "logs"))
    without = target / "compiled" / "enrich" / "models" / "marts"
    # at least five back-to-back pairs: one pair of three can land on a burst of other work
    return home.worker("lens", "--compiled", str(compiled), "--compiled-without", str(without),
                       "--repeat", str(max(repeat, 5)))


def refresh_suite(home: Home, pg_url: str, scenarios: tuple[str, ...], baseline: bool = True,
                  keep: Callable[[dict[str, Any]], None] = lambda figures: None) -> dict[str, Any]:
    """Issue 19: each scenario, then `enrich run --changed`, against a --fresh run on the same data."""
    result = refresh.measure(home, pg_url, scenarios, say, baseline, keep)
    result["load_average_end"] = machine.load_average()
    return result


def startup_suite(home: Home, pg_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Issue 22: cold start of `enrich status` and a no-op `enrich run --changed`, against the import."""
    result = startup.measure(home, pg_url, args.repeat_startup, say)
    result["load_average_end"] = machine.load_average()
    return result


def big_suite(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """make bench-100x: seed (reused when seeded) and one end-to-end run at 100x; 10x from the
    `make bench` figures in results.json, or measured here with --measure-10x."""
    home = Home(args.home_100x or args.work / "100x" / "home", "100x", args.work / "bench.log")
    home.path.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                           "load_average_start": machine.load_average(), "home": str(home.path)}
    say(f"100x: seeding in {home.path} (reused when already seeded)")
    out["seed"] = home.seed(args.reseed)
    out["load_average_measuring"] = machine.load_average()
    with throwaway_database() as pg_url:
        if args.from_complete_run and "end_to_end" in results.get("100x", {}):
            out["end_to_end"] = results["100x"]["end_to_end"]
            started = results["100x"]["started_at"]
            out["end_to_end_source"] = f"kept from the make bench-100x started {started}"
        else:
            say("100x: end to end, default batch size")
            out["end_to_end"] = endtoend.end_to_end(home, pg_url)
        say(f"  {out['end_to_end']['seconds']} s, peak RSS {out['end_to_end']['peak_rss_mb']:,.0f} MB")

        def keep(refresh_figures: dict[str, Any]) -> None:
            # a scenario's figures are written as it ends: a 100x bench runs for hours
            save_figures({**results, "100x": {**out, "refresh": refresh_figures}}, args.out)

        # issue 19 at 100x: a day of trading, a batch of resolutions, nothing (not the corrections)
        out["refresh"] = refresh_suite(home, pg_url, args.scenarios_100x, not args.from_complete_run, keep)
        if args.measure_10x:
            ten = Home(args.work / "10x" / "home", "10x", args.work / "bench.log")
            ten.path.mkdir(parents=True, exist_ok=True)
            ten.seed(args.reseed)
            say("10x: end to end, for the 100x comparison")
            out["10x_end_to_end"] = endtoend.end_to_end(ten, pg_url)
            out["10x_source"] = "measured in this run"
    if "10x_end_to_end" not in out and "10x" in results:
        out["10x_end_to_end"] = results["10x"]["end_to_end"]
        out["10x_source"] = f"results.json, the make bench run started {results.get('started_at')}"
    out["load_average_end"] = machine.load_average()
    out["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return out


def save_figures(results: dict[str, Any], out: Path) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


def write(results: dict[str, Any], out: Path) -> None:
    save_figures(results, out)
    (out / "RESULTS.md").write_text(report.markdown(results))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scales", default="reference,10x",
                        help="comma-separated: reference (always, but with --only), 10x (default: both)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "work",
                        help="scratch folder for the runtime homes (default bench/work, git-ignored)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR, help="where results.json and RESULTS.md go")
    parser.add_argument("--reseed", action="store_true", help="seed again even when the home has the scale")
    parser.add_argument("--old-sample", type=int, default=300, help="pairs the old approach runs on")
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate the reference end-to-end and single-shot runs N times (min kept)")
    parser.add_argument("--repeat-sql", type=int, default=3,
                        help="runs of the peer and of our SQL (min kept)")
    parser.add_argument("--skip-batch300", action="store_true", help="skip the --batch-size 300 run")
    parser.add_argument("--skip-profile", action="store_true", help="skip the instrumented run")
    parser.add_argument("--skip-old", action="store_true", help="skip the old approach's mutations")
    parser.add_argument("--skip-duckdb", action="store_true", help="skip the DuckDB peer")
    parser.add_argument("--only", choices=("refresh", "startup"), default=None,
                        help="measure only this suite (refresh: issue 19's scenarios at --scales; startup: "
                             "issue 22's cold start at --scales) and keep the other figures of the "
                             "results.json in --out")
    parser.add_argument("--repeat-startup", type=int, default=5,
                        help="repetitions of each cold-start command (min and median kept)")
    parser.add_argument("--skip-startup", action="store_true", help="skip issue 22's cold-start figures")
    parser.add_argument("--scenarios", default=",".join(refresh.DEFAULT_ORDER),
                        help="the refresh scenarios, in order (default: %(default)s)")
    parser.add_argument("--skip-refresh", action="store_true", help="skip issue 19's refresh scenarios")
    parser.add_argument("--make-test-seconds", type=float, default=None,
                        help="wall seconds of a `make test` measured on this machine, for its target")
    parser.add_argument("--100x", dest="big", action="store_true",
                        help="make bench-100x: only the 100x run, added to the results.json in --out")
    parser.add_argument("--from-complete-run", action="store_true",
                        help="with --100x: the home holds a complete run of its seeded data (a bench stopped "
                             "after its refresh baseline); no end-to-end or baseline run is made, the "
                             "end-to-end figures in results.json are kept")
    parser.add_argument("--home-100x", type=Path, default=None,
                        help="the 100x runtime home (default WORK/100x/home); reused when seeded")
    parser.add_argument("--measure-10x", action="store_true",
                        help="with --100x: run 10x again for the comparison instead of taking results.json's")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: rewrite RESULTS.md from the results.json in --out")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    args.home_100x = args.home_100x.resolve() if args.home_100x else None
    args.scales = [s for s in args.scales.split(",") if s]
    unknown = set(args.scales) - {"reference", "10x"}
    if unknown or not args.scales or ("reference" not in args.scales and args.only is None):
        parser.error("--scales takes reference and optionally 10x (with --only, either)")
    args.scenarios = tuple(s for s in args.scenarios.split(",") if s)
    if set(args.scenarios) - set(refresh.TARGETS):
        parser.error(f"--scenarios takes {', '.join(refresh.TARGETS)}")
    # make bench-100x: not the corrections (issue 19)
    args.scenarios_100x = tuple(s for s in args.scenarios if s != "corrections")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        results = json.loads((args.out / "results.json").read_text())
        if args.make_test_seconds is not None:
            results["make_test_seconds"] = args.make_test_seconds
        return finish(results, args.out)
    args.work.mkdir(parents=True, exist_ok=True)
    previous = args.out / "results.json"
    if args.only == "refresh":
        kept = json.loads(previous.read_text()) if previous.is_file() else {}
        for figures in kept.values():
            if isinstance(figures, dict):
                # issue 14's --changed scenario measured the refresh this one replaces
                figures.pop("changed", None)
        return only_suite(args, kept, "refresh",
                          lambda home, pg_url: refresh_suite(home, pg_url, args.scenarios))
    if args.only == "startup":
        kept = json.loads(previous.read_text()) if previous.is_file() else {}
        return only_suite(args, kept, "startup", lambda home, pg_url: startup_suite(home, pg_url, args))
    if args.big:
        results = json.loads(previous.read_text()) if previous.is_file() else {}
        try:
            results["100x"] = big_suite(args, results)
        except BenchError as ex:
            print(f"bench: {ex}", file=sys.stderr)
            return 1
        return finish(results, args.out)
    log = args.work / "bench.log"
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_start": machine.load_average(),
        "machine": machine.describe(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "log": str(log),
        "make_test_seconds": args.make_test_seconds,
    }
    homes = {scale: Home(args.work / scale / "home", scale, log) for scale in args.scales}
    try:
        results["seed"] = {}
        for scale, home in homes.items():
            say(f"seeding {scale} in {home.path} (reused when already seeded)")
            home.path.mkdir(parents=True, exist_ok=True)
            results["seed"][scale] = home.seed(args.reseed)
        results["load_average_measuring"] = machine.load_average()
        with throwaway_database() as pg_url:
            results["reference"] = reference_suite(homes["reference"], pg_url, args)
            if "10x" in homes:
                say("10x: end to end, default batch size")
                results["10x"] = {"end_to_end": endtoend.end_to_end(homes["10x"], pg_url)}
                say(f"  {results['10x']['end_to_end']['seconds']} s")
            if not args.skip_startup:
                # before the refresh scenarios: the home still holds the seeded data, complete
                results["reference"]["startup"] = startup_suite(homes["reference"], pg_url, args)
            # last: these change the homes' data (and put it back)
            if not args.skip_refresh:
                for scale, home in homes.items():
                    results[scale]["refresh"] = refresh_suite(home, pg_url, args.scenarios)
    except BenchError as ex:
        print(f"bench: {ex}", file=sys.stderr)
        return 1
    results["load_average_end"] = machine.load_average()
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if previous.is_file() and "100x" in (kept := json.loads(previous.read_text())):
        # the make bench-100x figures stay until that target runs again
        results["100x"] = kept["100x"]
    return finish(results, args.out)


def only_suite(args: argparse.Namespace, results: dict[str, Any], name: str,
               measure: Callable[[Home, str], dict[str, Any]]) -> int:
    """`--only NAME`: that suite at --scales, into the results.json there is (its other figures
    kept), then RESULTS.md regenerated."""
    log = args.work / "bench.log"
    try:
        with throwaway_database() as pg_url:
            for scale in args.scales:
                home = Home(args.work / scale / "home", scale, log)
                home.path.mkdir(parents=True, exist_ok=True)
                say(f"seeding {scale} in {home.path} (reused when already seeded)")
                seeded = home.seed(args.reseed)
                results.setdefault(scale, {})[name] = suite = measure(home, pg_url)
                suite["seed"] = seeded
                suite["machine"] = machine.describe()
                # the figures first: a later scale's failure must not lose this one's
                save_figures(results, args.out)
    except BenchError as ex:
        print(f"bench: {ex}", file=sys.stderr)
        return 1
    return finish(results, args.out)


def finish(results: dict[str, Any], out: Path) -> int:
    # the figures first: a fault in the report must not lose a long run's measurements
    save_figures(results, out)
    results["targets"] = report.targets(results)
    write(results, out)
    for row in results["targets"]:
        status = {True: "PASS", False: "MISS", None: "INFO"}[row["pass"]]
        say(f"{status} {row['target']}: {row['measured']}")
    say(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
