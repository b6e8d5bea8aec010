"""Who may run: one runner per home, and one runner per warehouse.

The home lock is an flock held for the process lifetime, plus the operator's pid file. The kernel
drops an flock when its holder dies, however it dies, so a lock left by a killed runner is never
stale: the next runner simply gets it.

The warehouse lock covers runners in other homes or on other hosts pointed at the same ClickHouse
server. It is a row in Postgres when Postgres is configured, else a table in the warehouse itself.
The holder refreshes a heartbeat from a background thread; a lock whose heartbeat is older than
the lease, or whose holder process is gone from the host that took it, is taken over. (An
embedded engine is locked by chDB itself: one process per data directory.)

A lease alone does not make one writer: a holder paused past its lease (a VM pause, a stopped
process, a partition) does not know it was taken over and would go on writing. So every take
gets an epoch, a fencing token that only grows, recorded with the lock, and the holder checks
that the lock still names its token and epoch before each write it commits (`WarehouseLock.check`,
called by the runner's checkpoints and by a dbt event callback before each writing statement).
A holder that lost the lock stops with `LockLost` (exit 4) without writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import psycopg
from dbt.adapters.chdb.engine import process_alive

from enrich.checkpoints import JOB, PgStore
from enrich.ddl import Ddl
from enrich.errors import EnrichError, LockLost

LEASE_SECONDS = 120.0
HEARTBEAT_SECONDS = 15.0
LOCK_TABLE = "_enrich_run_lock"
# The lease in seconds; the tests make it short instead of waiting two minutes.
LEASE_ENV = "ENRICH_LOCK_LEASE_SECONDS"


def lease_seconds() -> float:
    """The lease: ENRICH_LOCK_LEASE_SECONDS when set, else 120 s."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise EnrichError(f"{LEASE_ENV} must be a positive number of seconds, got {raw!r}")
    return value


def heartbeat_seconds(lease: float) -> float:
    # several beats per lease, so one missed beat never lets the lease run out
    return min(HEARTBEAT_SECONDS, lease / 4)


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
    # the fencing token of this take of the lock (0: not recorded, a lock from before epochs)
    epoch: int = 0

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} (since {self.since})"

    def gone(self) -> bool:
        """The holder's process is known to be dead: it ran on this host and is not running."""
        return self.host == socket.gethostname() and not process_alive(self.pid)


def _me() -> Holder:
    return Holder(uuid.uuid4().hex, socket.gethostname(), os.getpid(), datetime.now(UTC).isoformat())


class _Backend(Protocol):
    def take(self, me: Holder) -> tuple[Holder | None, int]: ...
    def beat(self, me: Holder) -> bool: ...
    def current(self) -> Holder | None: ...
    def drop(self, me: Holder) -> None: ...


class WarehouseLock:
    """The run lock of one warehouse, kept alive by a heartbeat thread while held."""

    def __init__(self, backend: _Backend, warehouse: str) -> None:
        self.backend = backend
        self.warehouse = warehouse
        self.me = _me()
        self.lease = lease_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # when the last heartbeat the store recorded for us was sent (time.monotonic): the lease
        # runs from there, so nobody can have taken the lock over for a lease after it
        self._beaten = 0.0
        # dbt runs models on several threads and each may check before a write; the warehouse
        # backend reads through one client, which takes one query at a time
        self._checking = threading.Lock()
        # once lost, lost for good: later checks raise at once, and the heartbeat stops
        self._lost: EnrichError | None = None

    @property
    def epoch(self) -> int:
        return self.me.epoch

    @property
    def pg_fence(self) -> tuple[str, int] | None:
        """(token, epoch) for a checkpoint update checked in the lock's own transaction."""
        return (self.me.token, self.me.epoch) if isinstance(self.backend, PgLockBackend) else None

    def acquire(self) -> Holder | None:
        """Take the lock or raise naming the holder; returns a dead holder taken over, if any."""
        sent = time.monotonic()
        taken_over, epoch = self.backend.take(self.me)
        self.me = Holder(self.me.token, self.me.host, self.me.pid, self.me.since, epoch)
        self._beaten = sent
        self._thread = threading.Thread(target=self._beat, name="warehouse-lock-heartbeat", daemon=True)
        self._thread.start()
        return taken_over

    def _beat(self) -> None:
        while not self._stop.wait(heartbeat_seconds(self.lease)):
            # a missed beat only shortens the lease; the run goes on (and check() stops it once the
            # lease may have run out)
            sent = time.monotonic()
            with contextlib.suppress(Exception):
                if self.backend.beat(self.me):
                    self._beaten = sent

    def check(self) -> None:
        """Raise LockLost unless the lock still names this holder and epoch.

        A store that does not answer cannot have handed the lock over before our lease ran out: the
        check passes while the last heartbeat it recorded is younger than the lease, and stops the
        run after.
        """
        if self._lost is not None:
            raise self._lost
        started = time.monotonic()
        try:
            with self._checking:
                holder = self.backend.current()
        except Exception as ex:
            if started - self._beaten < self.lease:
                return
            raise EnrichError(
                f"cannot confirm the lock of the warehouse {self.warehouse} for longer than its "
                f"{self.lease:g} s lease ({type(ex).__name__}); this run stopped without writing"
            ) from None
        if holder is None or holder.token != self.me.token or holder.epoch != self.me.epoch:
            self._lost = lost(holder)
            self._stop.set()
            raise self._lost

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self.backend.drop(self.me)


def lost(holder: Holder | None) -> LockLost:
    who = holder.describe() if holder is not None else "another runner (which has since released it)"
    epoch = f", epoch {holder.epoch}" if holder is not None and holder.epoch else ""
    return LockLost(f"the warehouse lock was taken over by {who}{epoch}; this run stopped without writing")


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

    def take(self, me: Holder) -> tuple[Holder | None, int]:
        conn = self.store.connection()
        with conn.transaction():
            row = conn.execute(
                "select holder, host, pid, acquired_at, epoch,"
                " now() - heartbeat_at > make_interval(secs => %s), released_at is not null"
                " from ops_warehouse_locks where job = %s and warehouse = %s for update",
                [lease_seconds(), JOB, self.warehouse],
            ).fetchone()
            previous = None
            if row is not None and not row[6]:
                previous = Holder(row[0], row[1], row[2], row[3].isoformat(), row[4])
                if not (row[5] or previous.gone()):
                    raise refused(self.warehouse, previous)
            taken = conn.execute(
                "insert into ops_warehouse_locks"
                " (job, warehouse, holder, host, pid, acquired_at, heartbeat_at, epoch)"
                " values (%s, %s, %s, %s, %s, now(), now(), nextval('ops_warehouse_lock_epochs'))"
                " on conflict (job, warehouse) do update set"
                " holder = excluded.holder, host = excluded.host, pid = excluded.pid,"
                " acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at,"
                " epoch = excluded.epoch, released_at = null returning epoch",
                [JOB, self.warehouse, me.token, me.host, me.pid],
            ).fetchone()
        assert taken is not None
        return previous, int(taken[0])

    def current(self) -> Holder | None:
        row = self.store.connection().execute(
            "select holder, host, pid, acquired_at, epoch from ops_warehouse_locks"
            " where job = %s and warehouse = %s",
            [JOB, self.warehouse],
        ).fetchone()
        return None if row is None else Holder(row[0], row[1], row[2], row[3].isoformat(), row[4])

    def beat(self, me: Holder) -> bool:
        # the heartbeat thread has a connection of its own: psycopg connections are not shared
        if self._beat_conn is None or self._beat_conn.closed:
            self._beat_conn = psycopg.connect(self.store.url, autocommit=True, connect_timeout=5)
        updated = self._beat_conn.execute(
            "update ops_warehouse_locks set heartbeat_at = now()"
            " where job = %s and warehouse = %s and holder = %s and released_at is null",
            [JOB, self.warehouse, me.token],
        )
        return updated.rowcount == 1

    def drop(self, me: Holder) -> None:
        if self._beat_conn is not None:
            self._beat_conn.close()
        # the row stays, released, naming its last holder: a runner that lost the lock to this
        # one reads who took it over
        self.store.connection().execute(
            "update ops_warehouse_locks set released_at = now()"
            " where job = %s and warehouse = %s and holder = %s",
            [JOB, self.warehouse, me.token],
        )


class ClickHouseLockBackend:
    """The lock as a table in the warehouse: CREATE TABLE either succeeds or finds it there.

    The holder (token, host, pid, epoch) is the table's comment, written once when the table is
    created. Heartbeats and the release are rows inserted into the table, each naming its holder's
    token: an insert is not conditional, but a row of a holder that lost the lock lands in its
    successor's table under its own token and counts for nothing, where rewriting the comment
    (the way heartbeats were kept before) could put the old holder back. A stale or released lock
    is renamed away before it is taken, so of two runners taking it at once only one wins.
    """

    def __init__(self, ddl: Ddl, heartbeat_ddl: Ddl, warehouse: str) -> None:
        self.ddl = ddl
        self.heartbeat_ddl = heartbeat_ddl
        self.warehouse = warehouse

    def _identity(self, ddl: Ddl) -> tuple[Holder, float] | None:
        """The holder named by the lock table's comment and the age in seconds of the comment's
        heartbeat (tables of earlier versions kept it there; now the creation time); None when
        there is no lock table."""
        rows = ddl.client.query(
            "select comment, dateDiff('millisecond', parseDateTime64BestEffortOrZero("
            "JSONExtractString(comment, 'heartbeat'), 3), now64(3)) / 1000 from system.tables"
            " where database = {db:String} and name = {name:String}",
            parameters={"db": ddl.database, "name": LOCK_TABLE},
        ).result_rows
        if not rows:
            return None
        try:
            data = json.loads(rows[0][0])
            holder = Holder(data["token"], data["host"], int(data["pid"]), data["since"],
                            int(data.get("epoch", 0)))
        except (ValueError, KeyError, TypeError):
            holder = Holder("", "?", 0, "?")
        return holder, float(rows[0][1])

    def _beats(self, ddl: Ddl, token: str) -> tuple[float, bool] | None:
        """The age in seconds of TOKEN's newest heartbeat row and whether it released the lock;
        None when it has no row (or the table is of an earlier version, without rows)."""
        try:
            rows = ddl.client.query(
                f"select dateDiff('millisecond', max(beat), now64(3)) / 1000, max(released), count()"
                f" from {ddl.name(LOCK_TABLE)} where holder = {{token:String}}",
                parameters={"token": token},
            ).result_rows
        except Exception:
            return None
        if not rows or not rows[0][2]:
            return None
        return float(rows[0][0]), bool(rows[0][1])

    def _comment(self, me: Holder) -> str:
        # the heartbeat field keeps runners of earlier versions, which read it, from taking over
        return json.dumps({"token": me.token, "host": me.host, "pid": me.pid, "since": me.since,
                           "epoch": me.epoch, "heartbeat": datetime.now(UTC).isoformat()})

    def _insert(self, ddl: Ddl, me: Holder, released: bool = False) -> None:
        ddl.client.insert(LOCK_TABLE, [[me.token, int(released)]],
                          database=ddl.database, column_names=["holder", "released"])

    def take(self, me: Holder) -> tuple[Holder | None, int]:
        found = self._identity(self.ddl)
        previous = None
        last_epoch = 0
        if found is not None:
            holder, age = found
            last_epoch = holder.epoch
            beats = self._beats(self.ddl, holder.token)
            released = beats is not None and beats[1]
            if beats is not None:
                age = min(age, beats[0])
            if not released:
                previous = holder
                if age <= lease_seconds() and not holder.gone():
                    raise refused(self.warehouse, holder)
            self.ddl.rename(LOCK_TABLE, f"{LOCK_TABLE}__stale_{me.token}")
            self.ddl.drop_table(f"{LOCK_TABLE}__stale_{me.token}")
        # every take moves the epoch on (a released lock table stays, keeping the last one)
        me = Holder(me.token, me.host, me.pid, me.since, last_epoch + 1)
        try:
            self.ddl.create_table(
                LOCK_TABLE,
                "holder String, beat DateTime64(3, 'UTC') default now64(3), released UInt8 default 0",
                "MergeTree",
                "tuple()",
                if_not_exists=False,
                comment=self._comment(me),
            )
        except Exception as ex:
            again = self._identity(self.ddl)
            if again is not None and again[0].token != me.token:
                raise refused(self.warehouse, again[0]) from ex
            raise
        self._insert(self.ddl, me)
        return previous, me.epoch

    def current(self) -> Holder | None:
        found = self._identity(self.ddl)
        return None if found is None else found[0]

    def beat(self, me: Holder) -> bool:
        self._insert(self.heartbeat_ddl, me)
        return True

    def drop(self, me: Holder) -> None:
        # the table stays, released: it keeps the epoch and names its last holder to a runner
        # that lost the lock to this one
        found = self._identity(self.ddl)
        if found is not None and found[0].token == me.token:
            self._insert(self.ddl, me, released=True)
