"""Operations: `enrich status`, `reset`, `dims`, `run --changed`, run as docs/RUNBOOK.md writes them.

One seeded home is shared by the module (a chDB directory cannot be copied); the tests run in file
order on it, each leaving a state the next one knows: the changed run, status, the market reset,
the dims merge, and the hard reset last.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import (
    PROJECT_DIR,
    embedded,
    enrich_env,
    freshness,
    plain,
    run_enrich,
    seeded_copy,
    state_file,
    throwaway_database,
)

from enrich.checkpoints import JOB, Checkpoint, read_local
from enrich.cli import build_parser
from enrich.errors import ExitCode
from enrich.events import read_events

RUNBOOK = PROJECT_DIR / "docs" / "RUNBOOK.md"
RESULTS = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")
SOURCES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")
P = 256
BAD_TRADE = "ops-bad-trade-1"


def runbook_commands() -> list[str]:
    """Every `enrich ...` line of the fenced sh blocks of RUNBOOK.md."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), re.S)
    lines = (line.strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line.startswith("enrich ")]


def runbook(command: str, **placeholders: str | Path) -> list[str]:
    """The runbook's COMMAND with its <PLACEHOLDERS> filled in, as arguments for run_enrich."""
    assert command in runbook_commands(), f"{command!r} is not in {RUNBOOK.name}"
    argv = shlex.split(command)[1:]
    return [str(placeholders[a[1:-1]]) if a.startswith("<") else a for a in argv]


def probe(home: Path, *statements: tuple[str, str, dict]) -> list[list[tuple]]:
    """Run (kind, sql, parameters) statements with one engine open for all."""
    out: list[list[tuple]] = []
    with embedded(home) as client:
        for kind, statement, parameters in statements:
            if kind == "command":
                client.command(statement, parameters=parameters)
                out.append([])
            else:
                rows = client.query(statement, parameters=parameters).result_rows
                out.append([tuple(r) for r in plain(rows)])
    return out


@dataclass(frozen=True)
class Sums:
    """Order-independent content hashes of tables; tuple(*) so NULL P&L values count too."""

    names: tuple[str, ...] = RESULTS
    where: str = "1 = 1"
    keep_computed_at: bool = False
    parameters: dict | None = None

    def statements(self) -> list[tuple[str, str, dict]]:
        columns = "*" if self.keep_computed_at else "* except (computed_at)"
        return [("query", f"select count(), sum(cityHash64(tuple(*))) from (select {columns}"
                          f" from polymarket.{name} where {self.where})", self.parameters or {})
                for name in self.names]


def measure(home: Path, *sets: Sums, extra: tuple[tuple[str, str, dict], ...] = ()) -> list:
    """Each set's {table: (count, hash)}, then the rows of each extra statement."""
    results = iter(probe(home, *(st for s in sets for st in s.statements()), *extra))
    measured: list = [{name: next(results)[0] for name in s.names} for s in sets]
    return measured + list(results)


def checksums(home: Path, sums: Sums = Sums()) -> dict[str, tuple]:
    return measure(home, sums)[0]


def keys_of(conditions: list[str]) -> tuple[str, str, dict]:
    return ("query", "select distinct toUInt16(cityHash64(c) % {p:UInt16})"
                     " from (select arrayJoin({c:Array(String)}) as c)", {"c": conditions, "p": P})


def batch_keys(home: Path, conditions: list[str]) -> set[int]:
    return {int(r[0]) for r in probe(home, keys_of(conditions))[0]}


def ledger_keys(url: str, run_id: str) -> dict[str, set[int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select step, key_lo, key_hi from ops_batch_ledger where run_id = %s",
                            [run_id]).fetchall()
    keys: dict[str, set[int]] = {}
    for step, lo, hi in rows:
        keys.setdefault(step, set()).update(range(lo, hi + 1))
    return keys


@dataclass
class Csv:
    header: str
    lines: list[str]
    rows: list[dict[str, str]]

    @classmethod
    def read(cls, path: Path) -> Csv:
        header, *lines = path.read_text().splitlines()
        rows = list(csv.DictReader([header, *lines]))
        assert len(rows) == len(lines), f"{path}: a record spans lines"
        return cls(header, lines, rows)

    def write(self, path: Path, keep: list[bool], extra: tuple[str, ...] = ()) -> None:
        path.write_text("\n".join([self.header, *(ln for ln, k in zip(self.lines, keep, strict=True) if k),
                                   *extra]) + "\n")


@dataclass
class World:
    home: Path
    env: dict[str, str]
    pg: str
    root: Path
    sources: dict[str, Csv]
    changed_conditions: list[str]
    first: Checkpoint
    changed: Checkpoint
    changed_out: str
    # what part 2 appended, per source table: its rows and their conditions
    appended: dict[str, tuple[int, set[str]]]
    # `enrich status --json` right after the refresh
    changed_status: dict[str, Any]
    fresh: Checkpoint
    sums_first: dict[str, tuple]
    sums_changed: dict[str, tuple]
    sums_fresh: dict[str, tuple]
    untouched_first: dict[str, tuple]
    untouched_changed: dict[str, tuple]
    first_out: str


@pytest.fixture(scope="module")
def ops_pg() -> Iterator[str]:
    with throwaway_database("enrich_ops") as url:
        yield url


def export_sources(home: Path, out: Path) -> dict[str, Csv]:
    code = ("import sys; from pathlib import Path; from enrich.config import Config;"
            " from enrich.export import export_relation; config = Config.from_env(home=sys.argv[1]);"
            " [export_relation(config, n, Path(sys.argv[2]) / f'{n}.csv') for n in sys.argv[3:]]")
    subprocess.run([sys.executable, "-c", code, str(home), str(out), *SOURCES], cwd=PROJECT_DIR,
                   env=enrich_env(), check=True, capture_output=True, timeout=300)
    return {name: Csv.read(out / f"{name}.csv") for name in SOURCES}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, ops_pg: str) -> World:
    """The tiny dataset loaded in two parts: a complete run on the first, `--changed` after the
    second is appended, then a `--fresh` run on the same data: what `--changed` must equal."""
    root = tmp_path_factory.mktemp("ops")
    home = root / "home"
    env = enrich_env(POSTGRES_URL=ops_pg)
    run_enrich(home, *runbook("enrich seed --scale tiny"), env=env)
    sources = export_sources(home, root / "all")
    trades, ctf, resolutions = sources["trades_raw"], sources["ctf_events"], sources["resolutions"]

    # three resolved conditions get news in part 2: a condition new to the warehouse, later
    # flows of a known one, and the resolution (with its redemptions) of a third
    resolved = sorted({r["condition_id"] for r in resolutions.rows}
                      & {r["condition_id"] for r in trades.rows})
    new, more, resolving = resolved[0], resolved[1], resolved[2]
    times = sorted(r["block_time"] for r in trades.rows if r["condition_id"] == more)
    cutoff = times[len(times) // 2]

    def later(row: dict[str, str]) -> bool:
        c = row["condition_id"]
        return (c == new or (c == more and row["block_time"] > cutoff)
                or (c == resolving and row.get("event_type") == "REDEEM"))

    bad = dict(next(r for r in trades.rows if r["condition_id"] == more and later(r)),
               trade_id=BAD_TRADE, shares="0")
    bad_line = ",".join(json.dumps(bad[k]) for k in trades.rows[0])
    part1, part2 = root / "part1", root / "part2"
    part1.mkdir()
    part2.mkdir()
    for name, table in (("trades_raw", trades), ("ctf_events", ctf)):
        table.write(part1 / f"{name}.csv", [not later(r) for r in table.rows])
        table.write(part2 / f"{name}.csv", [later(r) for r in table.rows],
                    (bad_line,) if name == "trades_raw" else ())
    arrives = [r["condition_id"] in (new, resolving) for r in resolutions.rows]
    resolutions.write(part1 / "resolutions.csv", [not a for a in arrives])
    resolutions.write(part2 / "resolutions.csv", arrives)
    sources["markets_dim"].write(part1 / "markets_dim.csv", [True] * len(sources["markets_dim"].rows))
    sources["markets_dim"].write(part2 / "markets_dim.csv", [False] * len(sources["markets_dim"].rows))

    state = state_file(home)
    run_enrich(home, *runbook("enrich load <DIR>", DIR=part1), env=env)
    first_out = run_enrich(home, *runbook("enrich run"), env=env).stdout
    first = read_local(state)
    # the rows of every other condition, build timestamps included
    untouched = Sums(RESULTS[:3], "condition_id not in {c:Array(String)}", True,
                     {"c": [new, more, resolving]})
    untouched_first, sums_first = measure(home, untouched, Sums())

    appended = {name: (len(rows), {r["condition_id"].lower() for r in rows}) for name, rows in (
        ("trades_raw", [*(r for r in trades.rows if later(r)), bad]),
        ("ctf_events", [r for r in ctf.rows if later(r)]),
        ("resolutions", [r for r, a in zip(resolutions.rows, arrives, strict=True) if a]))}
    run_enrich(home, *runbook("enrich load <DIR> --append", DIR=part2), env=env)
    changed_out = run_enrich(home, *runbook("enrich run --changed"), env=env).stdout
    changed = read_local(state)
    changed_status = json.loads(run_enrich(home, "status", "--json", env=env).stdout)
    untouched_changed, sums_changed = measure(home, untouched, Sums())

    run_enrich(home, *runbook("enrich run --fresh"), env=env)
    return World(home, env, ops_pg, root, sources, [new, more, resolving], first, changed, changed_out,
                 appended, changed_status, read_local(state), sums_first, sums_changed, checksums(home),
                 untouched_first, untouched_changed, first_out)


def test_changed_run_refreshes_only_the_changed_conditions(world: World) -> None:
    changed = world.changed
    assert world.first.status == changed.status == "complete"
    assert changed.run_id != world.first.run_id
    # the first run covered every key; the changed run refreshed a scope of exactly the three
    # conditions with news (nothing else shares their ids or markets), in batches of that scope
    assert ledger_keys(world.pg, world.first.run_id) == {"D": set(range(P)), "E": set(range(P))}
    said = re.search(r"--changed: (\d+) condition\(s\) changed since the last build, "
                     r"(\d+) in the refresh scope", world.changed_out)
    assert said and (int(said[1]), int(said[2])) == (3, 3), world.changed_out
    assert changed.scope and changed.mode == "changed"
    scope_batches = set(range(1, changed.total_batches + 1))
    assert ledger_keys(world.pg, changed.run_id) == {"D": scope_batches, "E": scope_batches}
    pairs_sql = ("select uniqExact(wallet_address, condition_id) from polymarket.pnl_positions"
                 " where condition_id in {c:Array(String)}")
    [[(pairs,)]] = probe(world.home, ("query", pairs_sql, {"c": world.changed_conditions}))
    assert changed.total_pairs == changed.pairs_done("D") == changed.pairs_done("E") == pairs
    # the new data did change the results, and no other condition's rows were rewritten at all
    assert world.sums_changed != world.sums_first
    assert world.untouched_changed == world.untouched_first
    # ... and the result is what a full run on all the data makes
    assert world.sums_changed == world.sums_fresh


def test_a_refresh_accounts_for_what_changed_and_what_it_rebuilt(world: World) -> None:
    changed = world.changed
    keys_sql = ("select uniqExact(batch_key) from polymarket.pnl_positions"
                " where condition_id in {c:Array(String)}")
    [[(partitions,)]] = probe(world.home, ("query", keys_sql, {"c": world.changed_conditions}))
    expected = {
        "changed_conditions": 3, "scope_conditions": 3,
        "sources": {name: {"conditions": len(conditions), "rows_added": rows, "rows_removed": 0,
                           "conditions_rewritten": 0}
                    for name, (rows, conditions) in world.appended.items()},
        "positions": changed.total_pairs, "batches": changed.total_batches, "partitions": partitions,
        "upstream": ["int_flows_unioned", "quarantine", "int_source_digests_recorded"],
        "replaced": ["pnl", "pnl_positions", "wallet_resolution_outcomes"],
        "rebuilt_whole": ["wallet_accuracy", "wallet_category_accuracy"],
    }
    assert changed.refresh == expected
    # the run said so, and so do `enrich status` and the event of the plan
    trades = world.appended["trades_raw"]
    assert (f"refresh: 3 condition(s) changed, 3 in scope, {changed.total_pairs:,} positions in "
            f"{changed.total_batches} batch(es)") in world.changed_out
    assert f"  trades_raw: +{trades[0]:,} -0 rows on {len(trades[1])} condition(s)" in world.changed_out
    assert f"  {partitions} batch-key partition(s) replaced in pnl, pnl_positions" in world.changed_out
    assert world.changed_status["checkpoint"]["refresh"] == expected
    planned = [e for e in read_events(world.home)
               if e["event"] == "planned" and e["run_id"] == changed.run_id]
    assert [e["refresh"] for e in planned] == [expected]


ELAPSED = r"(\d+\.\d s|\d+:\d\d:\d\d)"


def phase_lines(out: str, *patterns: str) -> list[str]:
    """The lines matching PATTERNS, asserted to appear in that order (each once at least)."""
    lines = out.splitlines()
    found, at = [], 0
    for pattern in patterns:
        index = next((i for i in range(at, len(lines)) if re.fullmatch(pattern, lines[i])), None)
        assert index is not None, f"no line {pattern!r} after line {at} of:\n{out}"
        found.append(lines[index])
        at = index + 1
    return found


def test_a_run_says_when_each_phase_starts_and_ends_with_its_time(world: World) -> None:
    phase_lines(world.first_out,
                "building the upstream models", f"upstream models built in {ELAPSED}",
                r"plan: 1 batch over 256 keys, .*",
                r"step D started: 1 batch of 1 to build", r"step D batch 1/1 .* ETA \d+:\d\d:\d\d",
                f"step D complete in {ELAPSED}: [\\d,]+ pairs in 1 batch",
                r"step E started: 1 batch of 1 to build",
                f"step E complete in {ELAPSED}: [\\d,]+ pairs in 1 batch",
                "running the gates", r"\d+ passed, \d+ warned, \d+ failed", f"gates done in {ELAPSED}",
                f"run {world.first.run_id} complete in {ELAPSED}")
    phase_lines(world.changed_out,
                "refreshing the upstream models for the scope", f"upstream models refreshed in {ELAPSED}",
                r"step D started: .*", f"step D complete in {ELAPSED}: .*", r"step E started: .*",
                f"step E complete in {ELAPSED}: .*", "running the gates", f"gates done in {ELAPSED}",
                f"run {world.changed.run_id} complete in {ELAPSED}")
    # every model dbt built, with its time, in the console log (on screen when it took 5 s or more)
    log = (world.home / f"{JOB}.console.log").read_text()
    for model in ("int_flows_unioned", "pnl", "wallet_accuracy"):
        assert re.search(rf"  model {model}: \S+ in \d+\.\d s$", log, re.M), model


def test_source_freshness_counts_the_newest_row_of_loaded_data(world: World) -> None:
    # loaded (not seeded) rows from 2024: a live warehouse whose feed stopped that long ago
    code, statuses = freshness(world.home, world.env)
    assert code == 1 and {name: s for name, (s, _) in statuses.items()} == {
        "trades_raw": "error", "ctf_events": "error", "resolutions": "error"}, statuses
    newest = probe(world.home, ("query", "select toString(max(block_time)) from polymarket.trades_raw", {}))
    assert statuses["trades_raw"][1][:19] == newest[0][0][0][:19].replace(" ", "T")


def engine_holder(home: Path) -> subprocess.Popen[str]:
    """A process holding the run lock and the embedded engine, like a runner in mid-run."""
    code = ("import sys, time; from pathlib import Path; from enrich.config import Config;"
            " from enrich.locks import RunLock; from enrich.warehouse import connect, resolve_target;"
            " RunLock(Path(sys.argv[1]), 'full-enrichment').acquire();"
            " c = connect(resolve_target(Config.from_env(home=sys.argv[1]))); c.query('select 1');"
            " print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(home)], cwd=PROJECT_DIR, env=enrich_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_status_reports_checkpoints_timings_and_quarantine(world: World) -> None:
    cp = world.fresh
    out = run_enrich(world.home, *runbook("enrich status"), env=world.env).stdout
    assert out.count(f"run {cp.run_id} complete,") == 2  # the local file and Postgres
    assert "newer: neither" in out
    assert (f"progress: step E: {cp.total_batches}/{cp.total_batches} batches, "
            f"{cp.total_pairs:,}/{cp.total_pairs:,} pairs (100%)") in out
    for step in ("D", "E"):
        assert f"step {step}: {cp.total_batches} batches, {cp.total_pairs:,} pairs" in out
    assert "pending mutations: 0" in out
    [[(pnl_rows,)], [(reason,)]] = probe(
        world.home, ("query", "select count() from polymarket.pnl", {}),
        ("query", "select reason from polymarket.quarantine where row_id = {id:String}", {"id": BAD_TRADE}))
    assert re.search(rf"pnl\s+{pnl_rows:,} rows", out)
    assert re.search(rf"trades_raw\s+quarantined\s+1\s+{re.escape(reason)}", out)

    # the same report for programs, with the README's fields
    report = json.loads(run_enrich(world.home, "status", "--json", env=world.env).stdout)
    assert report["runner"] == {"running": False, "pid": None}
    assert report["warehouse"] == f"chdb:{(world.home / 'chdb').resolve()}/polymarket"
    assert {k: report["checkpoint"][k] for k in ("run_id", "status", "mode", "steps_done", "total_batches",
                                                 "batches_done", "pairs_done", "total_pairs")} == {
        "run_id": cp.run_id, "status": "complete", "mode": "fresh", "steps_done": ["D", "E"],
        "total_batches": cp.total_batches, "batches_done": cp.total_batches, "pairs_done": cp.total_pairs,
        "total_pairs": cp.total_pairs}
    assert report["checkpoints"]["postgres"]["state"] == "ok" and report["checkpoints"]["newer"] == "neither"
    assert {t["step"]: (t["batches"], t["pairs"]) for t in report["timings"]} == {
        "D": (cp.total_batches, cp.total_pairs), "E": (cp.total_batches, cp.total_pairs)}
    figures = report["warehouse_figures"]
    assert figures["available"] and figures["pending_mutations"] == 0 and figures["tables"]["pnl"] == pnl_rows
    assert {"source_table": "trades_raw", "action": "quarantined", "reason": reason, "rows": 1} in figures[
        "quarantine"]
    gates = json.loads(run_enrich(world.home, "gates", "--json", env=world.env).stdout)
    assert gates["passed"] and gates["exit_code"] == 0 and gates["counts"]["fail"] == 0
    by_name = {g["name"]: g for g in gates["gates"]}
    assert by_name["gate_quarantine_summary"]["status"] == "warn"
    assert {"source_table": "trades_raw", "reason": reason, "row_count": 1} in by_name[
        "gate_quarantine_summary"]["rows"]
    wallets = by_name["gate_wallets_with_outcomes"]
    assert wallets["status"] == "pass" and wallets["expected"] == wallets["actual"] != "0"

    holder = engine_holder(world.home)
    try:
        busy = run_enrich(world.home, *runbook("enrich status"), env=world.env)
    finally:
        holder.kill()
        holder.wait()
    assert f"runner: running, pid {holder.pid}" in busy.stdout
    assert f"warehouse figures unavailable: run pid {holder.pid} holds the embedded engine" in busy.stdout
    assert busy.stdout.count(f"run {cp.run_id} complete,") == 2 and "pending mutations" not in busy.stdout


def test_changed_run_with_nothing_new_does_nothing(world: World) -> None:
    before = measure(world.home, Sums(keep_computed_at=True))[0]
    out = run_enrich(world.home, *runbook("enrich run --changed"), env=world.env).stdout
    assert (f"the last run {world.fresh.run_id} is complete and nothing changed since (the same source data"
            " and project): nothing to rebuild") in out
    # decided before any build: no new run, checkpoint or ledger row
    assert read_local(state_file(world.home)) == world.fresh
    assert ledger_keys(world.pg, world.fresh.run_id) == {"D": set(range(P)), "E": set(range(P))}
    # not a partition rewritten: even the build timestamps are the same
    assert measure(world.home, Sums(keep_computed_at=True))[0] == before


def test_reset_market_rebuilds_exactly_its_partitions(world: World) -> None:
    home = world.home
    market = next(r["market_id"] for r in world.sources["trades_raw"].rows
                  if r["condition_id"] == world.changed_conditions[1])
    [keys_rows] = probe(home, ("query", "select distinct toUInt16(cityHash64(condition_id) % 256) from"
                                        " polymarket.trades_raw where market_id = {m:String}", {"m": market}))
    keys = sorted(int(r[0]) for r in keys_rows)
    inside = Sums(RESULTS[:3], "batch_key in {keys:Array(UInt16)}", True, {"keys": keys})
    outside = Sums(RESULTS[:3], "batch_key not in {keys:Array(UInt16)}", True, {"keys": keys})
    everything = Sums(RESULTS + SOURCES, keep_computed_at=True)
    before, others, built_before = measure(home, Sums(), outside, inside)
    drops = tuple(("command", f"alter table polymarket.{name} drop partition id {{k:String}}", {"k": str(k)})
                  for name in RESULTS[:3] for k in keys)
    # a hostile id changes nothing at all, build timestamps included
    probe(home, *drops)
    damaged_sums, damaged = measure(home, Sums(), everything)
    assert damaged_sums != before
    checkpoint = state_file(home).read_text()
    hostile = run_enrich(home, *runbook("enrich reset --market <MARKET_ID>", MARKET_ID="x' OR 1=1 --"),
                         env=world.env, check=False)
    assert hostile.returncode == ExitCode.ERROR and "no market \"x' OR 1=1 --\"" in hostile.stderr
    assert checksums(home, everything) == damaged

    out = run_enrich(home, *runbook("enrich reset --market <MARKET_ID>", MARKET_ID=market), env=world.env)
    assert f"rebuilt batch key(s) {', '.join(map(str, keys))}" in out.stdout
    after, others_after, built_after = measure(home, Sums(), outside, inside)
    assert after == before and others_after == others
    assert built_after != built_before  # the market's partitions were rebuilt: new build timestamps
    assert state_file(home).read_text() == checkpoint


def test_dims_lists_missing_markets_and_merges_a_file(world: World) -> None:
    home, root = world.home, world.root
    markets = world.sources["markets_dim"]
    traded = sorted({r["market_id"] for r in world.sources["trades_raw"].rows})
    gone = traded[:2]
    reload = root / "reload"
    reload.mkdir()
    for name in SOURCES:
        (reload / f"{name}.csv").write_text((root / "all" / f"{name}.csv").read_text())
    markets.write(reload / "markets_dim.csv", [r["market_id"] not in gone for r in markets.rows])
    run_enrich(home, *runbook("enrich load <DIR>", DIR=reload), env=world.env)

    out = run_enrich(home, *runbook("enrich dims --missing"), env=world.env).stdout
    assert (home / "missing-markets.txt").read_text().split() == gone
    assert f"{len(gone)} market(s) traded but missing" in out

    # the "market API" answer: the two missing markets, one changed, two identical
    by_id = {r["market_id"]: r for r in markets.rows}
    renamed = traded[2]
    rows = [by_id[m] for m in gone] + [dict(by_id[renamed], question="Renamed by the API?")]
    rows += [by_id[m] for m in traded[3:5]]
    api = root / "markets.jsonl"
    api.write_text("".join(json.dumps(dict(r, outcome_count=int(r["outcome_count"]),
                                           outcome_labels=json.loads(r["outcome_labels"].replace("'", '"'))))
                           + "\n" for r in rows))

    bad = root / "bad-markets.jsonl"
    lines = api.read_text().splitlines()
    lines[1] = lines[1].replace('"outcome_count": 2', '"outcome_count": 300')
    bad.write_text("\n".join(lines[:2]) + "\n")
    before = checksums(home, Sums(("markets_dim",)))
    refused = run_enrich(home, *runbook("enrich dims --from <FILE>", FILE=bad), env=world.env, check=False)
    assert refused.returncode == ExitCode.ERROR
    assert "bad-markets.jsonl: line 2, column outcome_count" in refused.stderr
    assert checksums(home, Sums(("markets_dim",))) == before

    merged = run_enrich(home, *runbook("enrich dims --from <FILE>", FILE=api), env=world.env).stdout
    assert "2 added, 1 changed, 2 unchanged" in merged
    assert probe(home, ("query", "select count(), uniqExact(market_id) from polymarket.markets_dim", {}),
                 ("query", "select question from polymarket.markets_dim where market_id = {m:String}",
                  {"m": renamed})) == [[(len(markets.rows), len(markets.rows))], [("Renamed by the API?",)]]
    run_enrich(home, *runbook("enrich dims --missing"), env=world.env)
    assert (home / "missing-markets.txt").read_text() == ""

    # the sources now differ from the last run's in the renamed market's labels and, as the
    # reload came from the seed's export, in the bad trade part 2 added: two conditions to refresh
    out = run_enrich(home, *runbook("enrich run --changed"), env=world.env).stdout
    assert "--changed: 2 condition(s) changed since the last build, 2 in the refresh scope" in out, out
    refreshed = read_local(state_file(home))
    pairs_sql = ("select uniqExact(wallet_address, condition_id) from polymarket.pnl_positions"
                 " where condition_id in {c:Array(String)}")
    bad_condition = world.changed_conditions[1]
    [[(pairs,)], quarantined] = probe(
        home, ("query", pairs_sql, {"c": [by_id[renamed]["condition_id"], bad_condition]}),
        ("query", "select reason from polymarket.quarantine where row_id = {id:String}", {"id": BAD_TRADE}))
    assert refreshed.scope and refreshed.total_pairs == pairs and quarantined == []
    batches = set(range(1, refreshed.total_batches + 1))
    assert ledger_keys(world.pg, refreshed.run_id) == {"D": batches, "E": batches}


def test_reset_all_backs_up_then_forgets_everything(world: World) -> None:
    home = world.home
    counts = {name: count for name, (count, _) in checksums(home).items()}
    argv = [sys.executable, "-m", "enrich", "--home", str(home), *runbook("enrich reset --all")]
    no_tty = subprocess.run(argv, cwd=PROJECT_DIR, env=world.env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=300)
    assert no_tty.returncode == ExitCode.ERROR and "--yes" in no_tty.stderr
    holder = engine_holder(home)
    try:
        locked = run_enrich(home, *runbook("enrich reset --all --yes"), env=world.env, check=False)
    finally:
        holder.kill()
        holder.wait()
    assert locked.returncode == ExitCode.ERROR and f"pid {holder.pid}" in locked.stderr
    assert {name: count for name, (count, _) in checksums(home).items()} == counts

    out = run_enrich(home, *runbook("enrich reset --all --yes"), env=world.env).stdout
    backup = Path(re.search(r"backup of the results: (\S+)", out).group(1))
    assert backup.parent == home / "backups"
    left = ("query", "select name from system.tables where database = 'polymarket' and name in"
                     " {n:Array(String)}", {"n": list(RESULTS)})
    backed_up = tuple(("query", "select count() from file({p:String}, 'Parquet')",
                       {"p": str(backup / f"{name}.parquet")}) for name in RESULTS)
    assert probe(home, left, *backed_up) == [[], *([(counts[name],)] for name in RESULTS)]
    assert not state_file(home).exists()
    with psycopg.connect(world.pg) as conn:
        checkpoints = conn.execute("select count(*) from ops_run_checkpoints where job = %s", [JOB])
        assert checkpoints.fetchone() == (0,)
        assert conn.execute("select count(*) from ops_batch_ledger").fetchone()[0] > 0
    status = run_enrich(home, *runbook("enrich status"), env=world.env).stdout
    assert "state.json: none" in status and "checkpoint postgres" in status and "absent" in status
    # no results to check: one line that says so and what to run, not a gate table of missing tables
    gates = run_enrich(home, *runbook("enrich gates"), env=world.env, check=False)
    said = [line for line in gates.stderr.splitlines() if line.strip()]
    assert gates.returncode == ExitCode.ERROR and len(said) == 1, gates.stdout + gates.stderr
    assert "no results yet" in said[0] and "run `enrich run`" in said[0] and "Gates" not in gates.stdout
    # the next run starts over, whatever option it is given
    assert "starting a new run" in run_enrich(home, "run", "--resume", env=world.env).stdout


def test_runbook_commands_parse_with_the_cli() -> None:
    commands = runbook_commands()
    assert len(commands) >= 15
    parser = build_parser()
    for command in commands:
        argv = [a if not a.startswith("<") else "x" for a in shlex.split(command)[1:]]
        parser.parse_args(argv)  # argparse exits on a command it does not know
    text = RUNBOOK.read_text()
    for section in ("Start", "Resume", "Stop", "Monitor", "Gates", "Troubleshooting", "Emergency",
                    "File locations"):
        assert re.search(rf"^## \d+\. {section}", text, re.M), section


def test_status_keeps_the_embedded_figures_until_the_engine_changes(tiny_seed: Path, tmp_path: Path) -> None:
    """A second `enrich status` reads the figures the first read, without opening the engine, and
    any write to the warehouse makes the next one read them again."""
    home = seeded_copy(tiny_seed, tmp_path / "home")

    def figures() -> dict:
        return json.loads(run_enrich(home, "status", "--json").stdout)["warehouse_figures"]

    read = figures()
    assert read["available"] and "read_at" not in read
    kept = figures()
    assert kept.pop("read_at") and kept == read
    assert "the engine's files are unchanged since" in run_enrich(home, "status").stdout

    probe(home, ("command", "insert into polymarket.trades_raw select * from polymarket.trades_raw limit 1",
                 {}))
    changed = figures()
    assert "read_at" not in changed
    assert changed["tables"]["trades_raw"] == read["tables"]["trades_raw"] + 1
