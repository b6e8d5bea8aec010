"""Run dbt-clickhouse's adapter test suite against ``type: chdb``, one pytest process per module.

chDB opens one data path per process and keeps it for the life of the process, so each test
module gets a process (and a fresh data directory) of its own; a module that crashes the engine
takes only itself down. ``--subset ci`` is the fast subset CI can run; ``--write`` records the counts
per module, with a reason for every failure and skip (reasons.py), in SUITE.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

SUITE = Path(__file__).resolve().parent
ADAPTER_TESTS = SUITE / "tests" / "integration" / "adapter"
sys.path.insert(0, str(SUITE))
from reasons import REASONS  # noqa: E402

# the basic, incremental, materialized-view and snapshot classes: the materializations most
# projects use, in well under three minutes
CI_SUBSET = (
    "basic/test_basic.py",
    "basic/test_incremental.py",
    "basic/test_snapshot_check_cols.py",
    "basic/test_snapshot_timestamp.py",
    "incremental/test_base_incremental.py",
    "materialized_view/test_materialized_view.py",
)


@dataclass
class ModuleResult:
    module: str
    seconds: float
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    crashed: str = ""


def reason_for(nodeid: str) -> str | None:
    keys = [k for k in REASONS if nodeid == k or nodeid.startswith(k + "::") or nodeid.startswith(k)]
    return REASONS[max(keys, key=len)] if keys else None


def engine_version() -> str:
    import chdb

    # "26.9.2.1" -> "26.9": what helpers.below_version() compares against
    return ".".join(str(chdb.query("SELECT version()", "CSV")).strip().strip('"').split(".")[:2])


def run_module(module: str, version: str, timeout: float) -> ModuleResult:
    work = Path(tempfile.mkdtemp(prefix="dbt-chdb-suite-"))
    junit = work / "junit.xml"
    env = dict(os.environ, DBT_CH_TEST_CH_VERSION=version, DBT_CHDB_TEST_PATH=str(work / "chdb"))
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}", str(ADAPTER_TESTS / module)],
            cwd=SUITE,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
        crashed = f"exit {proc.returncode}: {tail[0][:200]}" if proc.returncode < 0 else ""
    except subprocess.TimeoutExpired:
        crashed = f"timed out after {timeout:.0f} s"
    result = ModuleResult(module, time.monotonic() - started, crashed=crashed)
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            name = f"{module}::{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
            outcome = next(iter(case), None)
            if outcome is None or outcome.tag in ("system-out", "system-err"):
                result.passed.append(name)
            elif outcome.tag == "skipped":
                result.skipped.append((name, (outcome.get("message") or "").strip()))
            else:
                result.failed.append((name, (outcome.get("message") or "").strip().splitlines()[0][:200]))
    elif not crashed:
        result.crashed = "no test report (collection error?)"
    shutil.rmtree(work, ignore_errors=True)
    return result


def all_modules() -> list[str]:
    return sorted(str(p.relative_to(ADAPTER_TESTS)) for p in ADAPTER_TESTS.rglob("test_*.py"))


def write_report(results: list[ModuleResult], path: Path, version: str, wall: float) -> None:
    import importlib.metadata as md

    passed = sum(len(r.passed) for r in results)
    failed = sum(len(r.failed) for r in results)
    skipped = sum(len(r.skipped) for r in results)
    crashed = [r for r in results if r.crashed]
    lines = [
        "# dbt-clickhouse's adapter suite on `type: chdb`",
        "",
        "Written by `make adapter-suite` (adapters/dbt-chdb/suite/run.py): dbt-clickhouse's own",
        "integration tests (suite/tests/integration/adapter, from its repository: see suite/README.md), one",
        "pytest process per module, each with a fresh chDB data directory.",
        "",
        f"- dbt-chdb {md.version('dbt-chdb')}, dbt-clickhouse {md.version('dbt-clickhouse')}, "
        f"dbt-core {md.version('dbt-core')}, dbt-tests-adapter {md.version('dbt-tests-adapter')}, "
        f"chdb-core {md.version('chdb-core')} (engine {version})",
        f"- **{passed} passed, {failed} failed, {skipped} skipped**"
        + (f", {len(crashed)} module(s) crashed" if crashed else "")
        + f"; {wall:.0f} s wall on this 2-core machine",
        "",
        "| module | passed | failed | skipped | seconds |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        mark = f" (crashed: {r.crashed})" if r.crashed else ""
        lines.append(
            f"| {r.module}{mark} | {len(r.passed)} | {len(r.failed)} | {len(r.skipped)} | {r.seconds:.0f} |"
        )
    lines += ["", "## Every test that did not pass, and why", ""]
    for r in results:
        if r.crashed:
            lines.append(f"- `{r.module}` (whole module): {reason_for(r.module) or r.crashed}")
        for name, message in r.failed:
            lines.append(f"- FAILED `{name}`: {reason_for(name) or 'UNEXPLAINED: ' + message}")
        for name, message in r.skipped:
            lines.append(f"- skipped `{name}`: {reason_for(name) or 'upstream skips it: ' + message}")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", choices=("all", "ci"), default="all")
    parser.add_argument("--jobs", type=int, default=2, help="modules run at once (one process each)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per module")
    parser.add_argument(
        "--write",
        type=Path,
        help="write the per-module report (SUITE.md) here, and the raw results beside it (.json)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="no run: rewrite --write's report from a run's saved results (after editing reasons.py)",
    )
    parser.add_argument("modules", nargs="*", help="modules relative to tests/integration/adapter")
    args = parser.parse_args()
    results: list[ModuleResult]
    if args.render:
        saved = json.loads(args.render.read_text())
        results = [ModuleResult(**r) for r in saved["results"]]
        for r in results:
            r.failed = [tuple(f) for f in r.failed]  # type: ignore[misc]
            r.skipped = [tuple(f) for f in r.skipped]  # type: ignore[misc]
        write_report(results, args.write or args.render.with_suffix(".md"), saved["engine"], saved["wall"])
        return 0
    modules = args.modules or (list(CI_SUBSET) if args.subset == "ci" else all_modules())
    version = engine_version()
    started = time.monotonic()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_module, m, version, args.timeout) for m in modules]
        for future in concurrent.futures.as_completed(futures):
            r = future.result()
            results.append(r)
            status = f" CRASHED ({r.crashed})" if r.crashed else ""
            print(
                f"{r.module}: {len(r.passed)} passed, {len(r.failed)} failed, "
                f"{len(r.skipped)} skipped in {r.seconds:.0f} s{status}",
                flush=True,
            )
    results.sort(key=lambda r: r.module)
    wall = time.monotonic() - started
    if args.write:
        raw = {"engine": version, "wall": wall, "results": [asdict(r) for r in results]}
        args.write.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
        write_report(results, args.write, version, wall)
    unexplained = [n for r in results for n, _ in r.failed if reason_for(n) is None]
    unexplained += [r.module for r in results if r.crashed and reason_for(r.module) is None]
    for name in unexplained:
        print(f"UNEXPLAINED: {name}", file=sys.stderr)
    passed = sum(len(r.passed) for r in results)
    failed = sum(len(r.failed) for r in results)
    skipped = sum(len(r.skipped) for r in results)
    # the closing line test runners print: what a CI log reader looks for
    print(f"{passed} passed, {failed} failed, {skipped} skipped in {wall:.0f} s")
    # a known, explained failure (a chDB limit) does not fail the run; a new one does
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
