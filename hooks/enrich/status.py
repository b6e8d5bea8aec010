"""`enrich status`: where the job stands, for an operator, also while a run is going on.

The checkpoint, the ledger and the console log are plain files and Postgres rows, readable at any
time. The warehouse figures (pending mutations, quarantine, table sizes) need the engine, which
an embedded (chDB) run holds for its whole life: then they are reported as unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

import psycopg
from clickhouse_connect.driver.client import Client

from enrich import checkpoints, mutations
from enrich.checkpoints import JOB, Checkpoint, DamagedCheckpoint, PgStore
from enrich.config import Config
from enrich.warehouse import Target, connect, resolve_target, table

RESULT_TABLES = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")
_STAMPED = re.compile(r"^(\S+) (.*)$")
_RUN_START = re.compile(r"^(?:run (\w+) started|resuming run (\w+) from)")
_BATCH = re.compile(r"^step (\w+) batch (\d+)/(\d+) keys (\d+)-(\d+) pairs (\d+) rows (\d+) ([\d.]+)s")


@dataclass(frozen=True)
class StepTiming:
    step: str
    batches: int
    pairs: int
    rows: int
    seconds: float
    first: datetime
    last: datetime

    @property
    def rate(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def runner_pid(home: Path) -> int | None:
    """The pid of the runner holding this home's lock, None when no runner runs."""
    lock_path = home / f"{JOB}.lock"
    if not lock_path.exists():
        return None
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        try:
            # a shared lock is granted only while no runner holds its exclusive one
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = (home / f"{JOB}.pid").read_text().strip() if (home / f"{JOB}.pid").exists() else ""
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def console_timings(log_path: Path, run_id: str) -> list[StepTiming]:
    """Per step, the batches of RUN_ID the console log recorded (every process of the run)."""
    if not log_path.exists():
        return []
    current = ""
    found: dict[str, list[tuple[datetime, int, int, float]]] = {}
    for raw in log_path.read_text(errors="replace").splitlines():
        stamped = _STAMPED.match(raw)
        if not stamped:
            continue
        line = stamped.group(2)
        started = _RUN_START.match(line)
        if started:
            current = started.group(1) or started.group(2)
            continue
        batch = _BATCH.match(line)
        if batch and current == run_id:
            when = datetime.fromisoformat(stamped.group(1).replace("Z", "+00:00"))
            found.setdefault(batch.group(1), []).append(
                (when, int(batch.group(6)), int(batch.group(7)), float(batch.group(8))))
    return [StepTiming(step, len(rows), sum(r[1] for r in rows), sum(r[2] for r in rows),
                       sum(r[3] for r in rows), rows[0][0] - timedelta(seconds=rows[0][3]), rows[-1][0])
            for step, rows in found.items()]


def ledger_timings(url: str, run_id: str) -> list[StepTiming]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        rows = conn.execute(
            "select step, count(*), sum(pairs), sum(rows_written), sum(seconds),"
            " min(finished_at - make_interval(secs => seconds)), max(finished_at)"
            " from ops_batch_ledger where run_id = %s group by step order by step", [run_id],
        ).fetchall()
    return [StepTiming(step, int(n), int(pairs), int(written), float(secs), first, last)
            for step, n, pairs, written, secs, first, last in rows]


class Status:
    def __init__(self, config: Config, out: TextIO) -> None:
        self.config = config
        self.out = out

    def say(self, line: str) -> None:
        print(line, file=self.out)

    def report(self) -> None:
        home = self.config.home
        self.say(f"home {home}")
        pid = runner_pid(home)
        self.say(f"runner: {'running, pid ' + str(pid) if pid else 'not running'}")
        url = os.environ.get("POSTGRES_URL")
        store = PgStore(url) if url else None
        try:
            newest = self._checkpoints(store)
            timings = self._timings(store, newest)
            if newest is not None:
                self._progress(newest, timings, running=pid is not None)
            self._print_timings(newest, timings)
        finally:
            if store is not None:
                store.close()
        self._warehouse(pid)

    def _checkpoints(self, store: PgStore | None) -> Checkpoint | None:
        path = checkpoints.state_path(self.config.home)
        local: Checkpoint | None = None
        try:
            local = checkpoints.read_local(path)
            self.say(f"checkpoint {path}: " + (self._describe(local) if local else "none"))
        except DamagedCheckpoint as ex:
            self.say(f"checkpoint: {ex}")
        if store is None:
            self.say("checkpoint in Postgres: not configured (POSTGRES_URL is not set)")
            return local
        remote: Checkpoint | None = None
        try:
            remote = store.load()
            shown = self._describe(remote) if remote else "none"
            self.say(f"checkpoint in Postgres {store.where}: {shown}")
        except DamagedCheckpoint as ex:
            self.say(f"checkpoint in Postgres: {ex}")
        except psycopg.Error as ex:
            store.close()
            self.say(f"checkpoint in Postgres {store.where}: unavailable ({store.error(ex)})")
        if local and remote:
            if remote.newer_than(local):
                self.say("newer: Postgres (the local file is behind; `enrich run --resume` uses Postgres)")
            elif local.newer_than(remote):
                self.say("newer: the local file (Postgres is behind; it catches up on the next commit)")
            else:
                self.say("newer: neither, they agree")
        return remote if remote and (local is None or remote.newer_than(local)) else local

    @staticmethod
    def _describe(cp: Checkpoint) -> str:
        return (f"run {cp.run_id} {cp.status}, step {cp.step}, steps done [{', '.join(cp.steps_done)}], "
                f"updated {cp.updated_at}")

    def _timings(self, store: PgStore | None, newest: Checkpoint | None) -> list[StepTiming]:
        if newest is None:
            return []
        if store is not None:
            with contextlib.suppress(psycopg.Error):
                timings = ledger_timings(store.url, newest.run_id)
                if timings:
                    return timings
        return console_timings(self.config.home / f"{JOB}.console.log", newest.run_id)

    def _progress(self, cp: Checkpoint, timings: list[StepTiming], running: bool) -> None:
        done = len(cp.ranges_done)
        share = cp.pairs_done / cp.total_pairs if cp.total_pairs else 0.0
        self.say(f"progress: step {cp.step}: {done}/{cp.total_batches} batches, "
                 f"{cp.pairs_done:,}/{cp.total_pairs:,} pairs ({share:.0%})")
        timing = next((t for t in timings if t.step == cp.step), None)
        if timing is None or not timing.rate:
            return
        line = f"rate: {timing.rate:,.0f} pairs/s"
        if cp.status == "running" and running:
            line += f", ETA of step {cp.step}: {_duration((cp.total_pairs - cp.pairs_done) / timing.rate)}"
        elif cp.status == "running":
            line += " (no runner holds the lock: the run was interrupted; `enrich run --resume` continues it)"
        self.say(line)

    def _print_timings(self, cp: Checkpoint | None, timings: list[StepTiming]) -> None:
        if not timings or cp is None:
            return
        self.say(f"timings of run {cp.run_id}:")
        for t in timings:
            wall = (t.last - t.first).total_seconds()
            self.say(f"  step {t.step}: {t.batches} batches, {t.pairs:,} pairs, {t.rows:,} rows, "
                     f"{t.seconds:.1f}s in batches, {wall:.1f}s from first to last commit")

    def _warehouse(self, pid: int | None) -> None:
        target = resolve_target(self.config)
        holder = self._engine_holder(target)
        if holder is not None:
            self.say(f"warehouse figures unavailable: run pid {holder} holds the embedded engine "
                     f"({target.credentials.path}); the checkpoint and ledger above are current")
            return
        from dbt.adapters.chdb.client import EngineLockedError

        try:
            client = connect(target)
        except EngineLockedError as ex:  # taken between the check and the open
            self.say(f"warehouse figures unavailable: {ex}")
            return
        try:
            self._warehouse_figures(client, target.database)
        finally:
            client.close()

    @staticmethod
    def _engine_holder(target: Target) -> int | None:
        if not target.embedded:
            return None
        from dbt.adapters.chdb.client import engine_lock_holder

        return engine_lock_holder(str(target.credentials.path))

    def _existing(self, client: Client, database: str) -> set[str]:
        return {r[0] for r in client.query(
            "select name from system.tables where database = {db:String}", parameters={"db": database},
        ).result_rows}

    def _warehouse_figures(self, client: Client, database: str) -> None:
        existing = self._existing(client, database)
        pending = mutations.pending(client, [database])
        self.say(f"pending mutations: {len(pending)}")
        for db, name, mutation_id, reason in pending[:10]:
            self.say(f"  {db}.{name} {mutation_id}" + (f": {reason}" if reason else ""))
        self.say("tables:")
        for name in RESULT_TABLES:
            count = (client.query(f"select count() from {table(database, name)}").result_rows[0][0]
                     if name in existing else None)
            self.say(f"  {name:<28} {'absent' if count is None else f'{count:,} rows'}")
        if "quarantine" not in existing:
            self.say("quarantine: the view is not built yet (`enrich gates` builds it)")
            return
        rows = client.query(
            f"select source_table, action, reason, count() from {table(database, 'quarantine')}"
            " group by source_table, action, reason order by source_table, action, reason"
        ).result_rows
        self.say(f"quarantine: {sum(r[3] for r in rows):,} rows" + (":" if rows else ""))
        for source_table, action, reason, count in rows:
            self.say(f"  {source_table:<12} {action:<11} {count:>8,}  {reason}")


def main(config: Config, args: argparse.Namespace) -> int:
    Status(config, sys.stdout).report()
    return 0
