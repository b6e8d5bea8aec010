"""Who may run: one runner per home, and one runner per warehouse.

The home lock is an flock held for the process lifetime, plus the operator's pid file. The kernel
drops an flock when its holder dies, however it dies, so a lock left by a killed runner is never
stale: the next runner simply gets it.

The warehouse lock covers runners in other homes or on other hosts pointed at the same ClickHouse
server. It is a row in Postgres when Postgres is configured, else a table in the warehouse itself.
The holder refreshes a heartbeat from a background thread; a lock whose heartbeat is older than
the lease, or whose holder process is gone from the host that took it, is taken over. (An
embedded engine is locked by chDB itself: one process per data directory.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import psycopg
from dbt.adapters.chdb.engine import process_alive

from enrich.checkpoints import JOB, PgStore
from enrich.ddl import Ddl
from enrich.errors import EnrichError

LEASE_SECONDS = 120
HEARTBEAT_SECONDS = 15
LOCK_TABLE = "_enrich_run_lock"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "x")
    except (OSError, ValueError):
        return None


class RunLock:
    def __init__(self, home: Path, job: str = JOB) -> None:
        self.lock_path = home / f"{job}.lock"
        self.pid_path = home / f"{job}.pid"
        self._fd: int | None = None

    def acquire(self) -> int | None:
        """Take the lock or raise naming the holder; returns the pid of a dead runner taken over."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_pid(self.lock_path) or _read_pid(self.pid_path)
            who = f"pid {holder}" if holder else "another process"
            raise EnrichError(
                f"another enrich run ({who}) is already running in this home (lock {self.lock_path}); "
                "wait for it to finish or stop it (kill -TERM stops it after the batch in flight)"
            ) from None
        self._fd = fd
        previous = _read_pid(self.pid_path) or _read_pid(self.lock_path)
        stale = previous if previous and previous != os.getpid() and not process_alive(previous) else None
        pid = str(os.getpid()).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, pid + b"\n", 0)
        os.fsync(fd)
        tmp = self.pid_path.with_suffix(".pid.tmp")
        tmp.write_bytes(pid + b"\n")
        os.replace(tmp, self.pid_path)
        return stale

    def release(self) -> None:
        if self._fd is None:
            return
        # The lock file itself stays: unlinking it would let a waiter lock an orphaned inode.
        with contextlib.suppress(OSError):
            self.pid_path.unlink()
        os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


def runner_pid(home: Path) -> int | None:
    """The pid of the runner holding HOME's lock (-1 when unknown), None when no runner runs."""
    lock_path = home / f"{JOB}.lock"
    if not lock_path.exists():
        return None
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        try:
            # a shared lock is granted only while no runner holds its exclusive one
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(home / f"{JOB}.pid") or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Holder:
    token: str
    host: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} (since {self.since})"

    def gone(self) -> bool:
        """The holder's process is known to be dead: it ran on this host and is not running."""
        return self.host == socket.gethostname() and not process_alive(self.pid)


def _me() -> Holder:
    return Holder(uuid.uuid4().hex, socket.gethostname(), os.getpid(), datetime.now(UTC).isoformat())


class _Backend(Protocol):
    def take(self, me: Holder) -> Holder | None: ...
    def beat(self, me: Holder) -> None: ...
    def drop(self, me: Holder) -> None: ...


class WarehouseLock:
    """The run lock of one warehouse, kept alive by a heartbeat thread while held."""

    def __init__(self, backend: _Backend, warehouse: str) -> None:
        self.backend = backend
        self.warehouse = warehouse
        self.me = _me()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> Holder | None:
        """Take the lock or raise naming the holder; returns a dead holder taken over, if any."""
        taken_over = self.backend.take(self.me)
        self._thread = threading.Thread(target=self._beat, name="warehouse-lock-heartbeat", daemon=True)
        self._thread.start()
        return taken_over

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            # a missed beat only shortens the lease; the run goes on
            with contextlib.suppress(Exception):
                self.backend.beat(self.me)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self.backend.drop(self.me)


def refused(warehouse: str, holder: Holder) -> EnrichError:
    return EnrichError(
        f"another enrich run holds the warehouse {warehouse}: {holder.describe()}; wait for "
        "it to finish or stop it (kill -TERM stops it after the batch in flight)"
    )


class PgLockBackend:
    """The lock as a row of ops_warehouse_locks, taken and checked in one transaction."""

    def __init__(self, store: PgStore, warehouse: str) -> None:
        self.store = store
        self.warehouse = warehouse
        self._beat_conn: psycopg.Connection | None = None

    def take(self, me: Holder) -> Holder | None:
        conn = self.store.connection()
        with conn.transaction():
            row = conn.execute(
                "select holder, host, pid, acquired_at, now() - heartbeat_at > make_interval(secs => %s)"
                " from ops_warehouse_locks where job = %s and warehouse = %s for update",
                [LEASE_SECONDS, JOB, self.warehouse],
            ).fetchone()
            previous = None
            if row is not None:
                previous = Holder(row[0], row[1], row[2], row[3].isoformat())
                if not (row[4] or previous.gone()):
                    raise refused(self.warehouse, previous)
            conn.execute(
                "insert into ops_warehouse_locks"
                " (job, warehouse, holder, host, pid, acquired_at, heartbeat_at)"
                " values (%s, %s, %s, %s, %s, now(), now()) on conflict (job, warehouse) do update set"
                " holder = excluded.holder, host = excluded.host, pid = excluded.pid,"
                " acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at",
                [JOB, self.warehouse, me.token, me.host, me.pid],
            )
        return previous

    def beat(self, me: Holder) -> None:
        # the heartbeat thread has a connection of its own: psycopg connections are not shared
        if self._beat_conn is None or self._beat_conn.closed:
            self._beat_conn = psycopg.connect(self.store.url, autocommit=True, connect_timeout=5)
        self._beat_conn.execute(
            "update ops_warehouse_locks set heartbeat_at = now()"
            " where job = %s and warehouse = %s and holder = %s",
            [JOB, self.warehouse, me.token],
        )

    def drop(self, me: Holder) -> None:
        if self._beat_conn is not None:
            self._beat_conn.close()
        self.store.connection().execute(
            "delete from ops_warehouse_locks where job = %s and warehouse = %s and holder = %s",
            [JOB, self.warehouse, me.token],
        )


class ClickHouseLockBackend:
    """The lock as a table in the warehouse: CREATE TABLE either succeeds or finds it there.

    The holder is recorded in the table's comment, and the heartbeat rewrites the comment (a
    metadata change, not a mutation). A stale lock is renamed away before it is taken, so of two
    runners taking over the same dead holder only one can win the rename.
    """

    def __init__(self, ddl: Ddl, heartbeat_ddl: Ddl, warehouse: str) -> None:
        self.ddl = ddl
        self.heartbeat_ddl = heartbeat_ddl
        self.warehouse = warehouse

    def _holder(self, ddl: Ddl) -> tuple[Holder, float] | None:
        rows = ddl.client.query(
            "select comment, dateDiff('second', parseDateTime64BestEffortOrZero("
            "JSONExtractString(comment, 'heartbeat')), now64()) from system.tables"
            " where database = {db:String} and name = {name:String}",
            parameters={"db": ddl.database, "name": LOCK_TABLE},
        ).result_rows
        if not rows:
            return None
        try:
            data = json.loads(rows[0][0])
            holder = Holder(data["token"], data["host"], int(data["pid"]), data["since"])
        except (ValueError, KeyError, TypeError):
            holder = Holder("", "?", 0, "?")
        return holder, float(rows[0][1])

    def _comment(self, me: Holder) -> str:
        return json.dumps(
            {
                "token": me.token,
                "host": me.host,
                "pid": me.pid,
                "since": me.since,
                "heartbeat": datetime.now(UTC).isoformat(),
            }
        )

    def take(self, me: Holder) -> Holder | None:
        found = self._holder(self.ddl)
        previous = None
        if found is not None:
            previous, age = found
            if age <= LEASE_SECONDS and not previous.gone():
                raise refused(self.warehouse, previous)
            self.ddl.rename(LOCK_TABLE, f"{LOCK_TABLE}__stale_{me.token}")
            self.ddl.drop_table(f"{LOCK_TABLE}__stale_{me.token}")
        try:
            self.ddl.create_table(
                LOCK_TABLE,
                "holder String",
                "MergeTree",
                "tuple()",
                if_not_exists=False,
                comment=self._comment(me),
            )
        except Exception as ex:
            again = self._holder(self.ddl)
            if again is not None and again[0].token != me.token:
                raise refused(self.warehouse, again[0]) from ex
            raise
        return previous

    def beat(self, me: Holder) -> None:
        found = self._holder(self.heartbeat_ddl)
        if found is not None and found[0].token == me.token:
            self.heartbeat_ddl.comment(LOCK_TABLE, self._comment(me))

    def drop(self, me: Holder) -> None:
        found = self._holder(self.ddl)
        if found is not None and found[0].token == me.token:
            self.ddl.drop_table(LOCK_TABLE)
