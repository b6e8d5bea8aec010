"""`enrich status`: where the job stands on this warehouse, for an operator or a program (--json),
also while a run is going on.

One report is collected and then rendered, as text or as JSON with the fields the README lists.
The checkpoint, the ledger and the run events are plain files and Postgres rows, readable at any
time. The warehouse figures (pending mutations, quarantine, table sizes) need the engine, which
an embedded (chDB) run holds for its whole life: then they are reported as unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import psycopg

from enrich import mutations, summary
from enrich.checkpoints import Checkpoint, DamagedCheckpoint, PgStore, read_local, state_path
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.events import read_events
from enrich.locks import runner_pid
from enrich.project import QUARANTINE_MODEL, SOURCE_TABLES, result_tables, steps_from_manifest
from enrich.runstate import newest
from enrich.scope import describe
from enrich.warehouse import Target, connect, identity, resolve_target, table


@dataclass(frozen=True)
class StepTiming:
    step: str
    batches: int
    pairs: int
    rows: int
    seconds: float
    first: str
    last: str

    @property
    def rate(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0


def ledger_timings(store: PgStore, run_id: str) -> list[StepTiming]:
    rows = (
        store.connection()
        .execute(
            "select step, count(*), sum(pairs), sum(rows_written), sum(seconds),"
            " min(finished_at - make_interval(secs => seconds)), max(finished_at)"
            " from ops_batch_ledger where run_id = %s group by step order by step",
            [run_id],
        )
        .fetchall()
    )
    return [
        StepTiming(step, int(n), int(pairs), int(written), float(secs), first.isoformat(), last.isoformat())
        for step, n, pairs, written, secs, first, last in rows
    ]


@dataclass(frozen=True)
class BatchTiming:
    step: str
    batch: int  # 1-based, as the runner prints it
    key_lo: int
    key_hi: int
    pairs: int
    rows: int
    seconds: float
    finished_at: str


def event_batches(config: Config, run_id: str) -> list[BatchTiming]:
    return [
        BatchTiming(str(e["step"]), int(e["batch"]), int(e["key_lo"]), int(e["key_hi"]), int(e["pairs"]),
                    int(e["rows"]), float(e["seconds"]), str(e["ts"]))
        for e in read_events(config.home)
        if e.get("event") == "batch_committed" and e.get("run_id") == run_id
    ]


def event_timings(config: Config, run_id: str) -> list[StepTiming]:
    """Per step, the batches of RUN_ID the event log recorded (every process of the run)."""
    found: dict[str, list[BatchTiming]] = {}
    for batch in event_batches(config, run_id):
        found.setdefault(batch.step, []).append(batch)
    return [
        StepTiming(step, len(batches), sum(b.pairs for b in batches), sum(b.rows for b in batches),
                   sum(b.seconds for b in batches), batches[0].finished_at, batches[-1].finished_at)
        for step, batches in found.items()
    ]


def ledger_batches(store: PgStore, run_id: str) -> list[BatchTiming]:
    rows = store.connection().execute(
        "select step, batch_idx, key_lo, key_hi, pairs, rows_written, seconds, finished_at"
        " from ops_batch_ledger where run_id = %s order by finished_at, step, batch_idx",
        [run_id],
    ).fetchall()
    return [BatchTiming(step, int(idx) + 1, int(lo), int(hi), int(pairs), int(written), float(secs),
                        finished.isoformat())
            for step, idx, lo, hi, pairs, written, secs, finished in rows]


def _summary(cp: Checkpoint) -> dict[str, Any]:
    return {
        "run_id": cp.run_id,
        "status": cp.status,
        "mode": cp.mode,
        "step_request": cp.step_request,
        "step": cp.step,
        "steps": cp.steps,
        "steps_done": cp.steps_done,
        "batches_done": len(cp.ranges_done()),
        "total_batches": cp.total_batches,
        "pairs_done": cp.pairs_done(),
        "total_pairs": cp.total_pairs,
        "gates_done": cp.gates_done,
        "started_at": cp.started_at,
        "updated_at": cp.updated_at,
        "tables": cp.tables,
        "refresh": cp.refresh or None,
    }


class Collector:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.target: Target = resolve_target(config)
        self.warehouse = identity(self.target)

    def collect(self) -> dict[str, Any]:
        pid = runner_pid(self.config.home)
        report: dict[str, Any] = {
            "home": str(self.config.home),
            "target": self.target.name,
            "warehouse": self.warehouse,
            "runner": {"running": pid is not None, "pid": pid if pid and pid > 0 else None},
        }
        url = os.environ.get("POSTGRES_URL")
        store = PgStore(url) if url else None
        try:
            local, remote, sources = self._checkpoints(store)
            latest = newest(local, remote)
            report["checkpoints"] = sources
            report["checkpoint"] = _summary(latest) if latest else None
            timings = self._timings(store, latest)
        finally:
            if store is not None:
                store.close()
        report["timings"] = [asdict(t) | {"rate_pairs_per_s": round(t.rate, 1)} for t in timings]
        report["progress"] = self._progress(latest, timings, pid is not None)
        report["warehouse_figures"] = self._figures(latest)
        return report

    def _checkpoints(self, store: PgStore | None) -> tuple[Checkpoint | None, Checkpoint | None, dict]:
        path = state_path(self.config.home, self.warehouse)
        sources: dict[str, dict[str, Any]] = {}
        local = remote = None
        try:
            local = read_local(path)
            sources["local"] = {"path": str(path), "state": "ok" if local else "none"}
        except DamagedCheckpoint as ex:
            sources["local"] = {"path": str(path), "state": "damaged", "error": str(ex)}
        if store is None:
            sources["postgres"] = {"where": None, "state": "not configured"}
        else:
            try:
                remote = store.load(self.warehouse)
                sources["postgres"] = {"where": store.where, "state": "ok" if remote else "none"}
            except DamagedCheckpoint as ex:
                sources["postgres"] = {"where": store.where, "state": "damaged", "error": str(ex)}
            except psycopg.Error as ex:
                store.close()
                sources["postgres"] = {"where": store.where, "state": "unavailable", "error": store.error(ex)}
        for name, cp in (("local", local), ("postgres", remote)):
            if cp is not None:
                sources[name].update(run_id=cp.run_id, status=cp.status, updated_at=cp.updated_at)
        if local and remote:
            sources["newer"] = (
                "postgres" if remote.newer_than(local) else "local" if local.newer_than(remote) else "neither"
            )
        return local, remote, sources

    def _timings(self, store: PgStore | None, latest: Checkpoint | None) -> list[StepTiming]:
        if latest is None:
            return []
        if store is not None:
            with contextlib.suppress(psycopg.Error):
                timings = ledger_timings(store, latest.run_id)
                if timings:
                    return timings
        return event_timings(self.config, latest.run_id)

    def last_run(self) -> tuple[Checkpoint | None, list[StepTiming], list[BatchTiming]]:
        """The newest run's checkpoint and its timings per step and per batch (for `enrich report`),
        from where the status reads them: the Postgres ledger when it answers, else the run events."""
        url = os.environ.get("POSTGRES_URL")
        store = PgStore(url) if url else None
        try:
            local, remote, _ = self._checkpoints(store)
            latest = newest(local, remote)
            if latest is None:
                return None, [], []
            steps = self._timings(store, latest)
            batches: list[BatchTiming] = []
            if store is not None:
                with contextlib.suppress(psycopg.Error):
                    batches = ledger_batches(store, latest.run_id)
            return latest, steps, batches or event_batches(self.config, latest.run_id)
        finally:
            if store is not None:
                store.close()

    @staticmethod
    def _progress(cp: Checkpoint | None, timings: list[StepTiming], running: bool) -> dict[str, Any] | None:
        if cp is None:
            return None
        timing = next((t for t in timings if t.step == cp.step), None)
        rate = timing.rate if timing else 0.0
        eta = (
            (cp.total_pairs - cp.pairs_done()) / rate if rate and cp.status == "running" and running else None
        )
        return {
            "share": cp.pairs_done() / cp.total_pairs if cp.total_pairs else None,
            "rate_pairs_per_s": round(rate, 1) if rate else None,
            "eta_seconds": eta,
            "interrupted": cp.status == "running" and not running,
        }

    def _figures(self, latest: Checkpoint | None) -> dict[str, Any]:
        holder = self._engine_holder()
        if holder is not None:
            return {
                "available": False,
                "reason": f"run pid {holder} holds the embedded engine ({self.target.credentials.path})",
            }
        snapshot = None
        if self.target.embedded:
            engine = Path(self.target.credentials.path)
            snapshot = FiguresSnapshot(self.config.home, engine, self.target.database)
        if snapshot is not None and (kept := snapshot.read()) is not None:
            return kept
        from dbt.adapters.chdb.engine import EngineLockedError

        try:
            client = connect(self.target)
        except EngineLockedError as ex:  # taken between the check and the open
            return {"available": False, "reason": str(ex)}
        try:
            figures = self._query_figures(client, latest)
        finally:
            client.close()
        if snapshot is not None:
            snapshot.write(figures)
        return figures

    def _result_tables(self) -> tuple[str, ...]:
        """Without a checkpoint to name them, the result tables the project defines."""
        return result_tables(steps_from_manifest(DbtSession(self.config).manifest))

    def _engine_holder(self) -> int | None:
        if not self.target.embedded:
            return None
        from dbt.adapters.chdb.engine import engine_lock_holder

        return engine_lock_holder(str(self.target.credentials.path))

    def _query_figures(self, client: Any, latest: Checkpoint | None) -> dict[str, Any]:
        database = self.target.database
        existing = {
            r[0]
            for r in client.query(
                "select name from system.tables where database = {db:String}",
                parameters={"db": database},
            ).result_rows
        }
        pending = mutations.pending(
            client, [database], Ddl.for_target(client, self.target).system("mutations")
        )
        names = list(SOURCE_TABLES) + (latest.tables if latest else list(self._result_tables()))
        tables = {
            name: (
                int(client.query(f"select count() from {table(database, name)}").result_rows[0][0])
                if name in existing
                else None
            )
            for name in names
        }
        quarantine = None
        if QUARANTINE_MODEL in existing:
            quarantine = [
                {"source_table": s, "action": a, "reason": r, "rows": int(n)}
                for s, a, r, n in client.query(
                    f"select source_table, action, reason, count() from {table(database, QUARANTINE_MODEL)}"
                    " group by source_table, action, reason order by source_table, action, reason"
                ).result_rows
            ]
        # two small queries on the marts (their row counts at most): cheap enough for every status
        results = None
        if not summary.missing_marts(client, database):
            results = summary.collect(client, database).to_json()
        return {
            "available": True,
            "pending_mutations": len(pending),
            "mutations": [
                {"database": d, "table": t, "mutation_id": m, "latest_fail_reason": r}
                for d, t, m, r in pending
            ],
            "tables": tables,
            "quarantine": quarantine,
            "summary": results,
        }


class FiguresSnapshot:
    """The warehouse figures of an embedded engine as status last read them, kept while the
    engine's files of the database are unchanged.

    Opening the embedded engine loads every table's parts (1-3 s at reference), which a monitoring
    loop polling `enrich status` would pay each time. Only a process holding the engine can change
    its tables, and every change (an insert, a mutation, a merge, a created, altered or dropped
    table) adds or removes an entry in a table's data directory or in the database's metadata
    directory, so their modification times tell whether the figures can still be true. Embedded
    only: a server's figures are one query away and may change at any time.
    """

    def __init__(self, home: Path, engine_path: Path, database: str) -> None:
        self.path = home / "warehouse-figures.json"
        self.engine_path = engine_path
        self.database = database

    def fingerprint(self) -> list[list[Any]]:
        tables = self.engine_path / "data" / self.database
        directories = [self.engine_path / "metadata" / self.database, tables]
        if tables.is_dir():
            directories += sorted(tables.iterdir())
        found = []
        for directory in directories:
            try:
                found.append([str(directory.relative_to(self.engine_path)), directory.stat().st_mtime_ns])
            except OSError:
                found.append([str(directory.relative_to(self.engine_path)), None])
        return found

    def read(self) -> dict[str, Any] | None:
        try:
            kept = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(kept, dict) or kept.get("fingerprint") != self.fingerprint():
            return None
        return {**kept["figures"], "read_at": kept["read_at"]}

    def write(self, figures: dict[str, Any]) -> None:
        kept = {"fingerprint": self.fingerprint(), "read_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "figures": figures}
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(kept, default=str))
            temporary.replace(self.path)
        except OSError:
            temporary.unlink(missing_ok=True)  # a snapshot is an optimisation: status works without


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def render(report: dict[str, Any], out: TextIO) -> None:
    def say(line: str) -> None:
        print(line, file=out)

    runner = report["runner"]
    say(f"home {report['home']}, target {report['target']}, warehouse {report['warehouse']}")
    say(f"runner: {'running, pid ' + str(runner['pid']) if runner['running'] else 'not running'}")
    for name, source in report["checkpoints"].items():
        if name == "newer":
            continue
        where = source.get("path") or source.get("where") or ""
        if source["state"] == "ok":
            say(
                f"checkpoint {name} {where}: run {source['run_id']} {source['status']}, "
                f"updated {source['updated_at']}"
            )
        else:
            say(
                f"checkpoint {name} {where}: {source['state']}"
                + (f" ({source['error']})" if "error" in source else "")
            )
    if "newer" in report["checkpoints"]:
        say(f"newer: {report['checkpoints']['newer']}")
    cp = report["checkpoint"]
    if cp is not None:
        share = report["progress"]["share"]
        say(
            f"run {cp['run_id']} {cp['status']} ({cp['mode']}, step {cp['step_request']}): steps done "
            f"[{', '.join(cp['steps_done'])}]"
        )
        say(
            f"progress: step {cp['step']}: {cp['batches_done']}/{cp['total_batches']} batches, "
            f"{cp['pairs_done']:,}/{cp['total_pairs']:,} pairs"
            + (f" ({share:.0%})" if share is not None else "")
        )
        for line in describe(cp["refresh"] or {}):
            say(line)
        progress = report["progress"]
        if progress["rate_pairs_per_s"]:
            line = f"rate: {progress['rate_pairs_per_s']:,.0f} pairs/s"
            if progress["eta_seconds"] is not None:
                line += f", ETA of step {cp['step']}: {_duration(progress['eta_seconds'])}"
            say(line)
        if progress["interrupted"]:
            say("no runner holds the lock: the run was interrupted; `enrich run --resume` continues it")
        if report["timings"]:
            say(f"timings of run {cp['run_id']}:")
            for t in report["timings"]:
                say(
                    f"  step {t['step']}: {t['batches']} batches, {t['pairs']:,} pairs, {t['rows']:,} rows, "
                    f"{t['seconds']:.1f}s in batches"
                )
    figures = report["warehouse_figures"]
    if not figures["available"]:
        say(
            f"warehouse figures unavailable: {figures['reason']}; the checkpoint and ledger above are current"
        )
        return
    if "read_at" in figures:
        say(f"warehouse figures as read at {figures['read_at']}; the engine's files are unchanged since")
    say(f"pending mutations: {figures['pending_mutations']}")
    for m in figures["mutations"][:10]:
        say(
            f"  {m['database']}.{m['table']} {m['mutation_id']}"
            + (f": {m['latest_fail_reason']}" if m["latest_fail_reason"] else "")
        )
    say("tables:")
    for name, rows in figures["tables"].items():
        say(f"  {name:<28} {'absent' if rows is None else f'{rows:,} rows'}")
    if figures["summary"] is not None:
        for line in summary.lines(figures["summary"]):
            say(line)
    if figures["quarantine"] is None:
        say("quarantine: not built yet (`enrich run` and `enrich gates` build it)")
        return
    say(
        f"quarantine: {sum(q['rows'] for q in figures['quarantine']):,} rows"
        + (":" if figures["quarantine"] else "")
    )
    for q in figures["quarantine"]:
        say(f"  {q['source_table']:<12} {q['action']:<11} {q['rows']:>8,}  {q['reason']}")


def main(config: Config, args: argparse.Namespace) -> int:
    report = Collector(config).collect()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        render(report, sys.stdout)
    return 0
