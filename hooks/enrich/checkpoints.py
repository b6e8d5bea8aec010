"""Where a run's state is kept: an atomic local state file, mirrored to Postgres when configured.

A checkpoint belongs to one job on one warehouse (its identity: host, port and database of a
server, the data path of the embedded engine), so two warehouses never see each other's runs.
The local file is written first and is always current. Postgres may lag while it is unreachable
or switched off: ledger rows it has not confirmed stay in the file (`pg_pending`) and are sent
when it answers again, even by a later process. What the fields mean and how they change is
`enrich.runstate`'s business; this module only stores and validates them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from enrich import killpoints
from enrich.errors import EnrichError, LockLost

JOB = "full-enrichment"
STATUSES = ("running", "stopped", "complete")
MODES = ("run", "fresh", "changed")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DamagedCheckpoint(EnrichError):
    """The state file (or the Postgres row) exists but cannot be trusted."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class LedgerRow:
    run_id: str
    step: str
    batch_idx: int
    key_lo: int
    key_hi: int
    pairs: int
    rows_written: int
    seconds: float
    status: str
    finished_at: str


@dataclass
class Checkpoint:
    run_id: str
    warehouse: str
    # What the operator asked for, recorded before any work: mode (run, fresh, changed), step
    # (all, D, E) and the batch size (None: sized from the data).
    mode: str
    step_request: str
    batch_size: int | None
    batch_partitions: int
    status: str = "running"
    # The steps the request runs, in order, and those complete on the current plan.
    steps: list[str] = field(default_factory=list)
    steps_done: list[str] = field(default_factory=list)
    # The result tables the steps build (read by status and by the start decision).
    tables: list[str] = field(default_factory=list)
    # --fresh: the result tables were dropped (done once, before the first batch).
    dropped: bool = False
    # The key ranges to build, [lo, hi, pairs]; empty until planned.
    plan: list[list[int]] = field(default_factory=list)
    # Per step, the plan ranges committed, as [lo, hi].
    done: dict[str, list[list[int]]] = field(default_factory=dict)
    # Per batch key, the signature of the data the committed ranges were built from.
    signatures: dict[str, list[int]] = field(default_factory=dict)
    gates_done: bool = False
    # The gates' exit code once they ran (0 passed or warned, 1 a gate failed).
    gates_exit: int = 0
    # A refresh (--changed on a complete run): the plan's entries are batches of the refresh
    # scope ([n, n, pairs], enrich.scope), not key ranges.
    scope: bool = False
    # A refresh's account of itself (RunState.plan_scope): the conditions changed and in scope,
    # per source table the rows added and removed, the positions, batches and partitions rebuilt.
    refresh: dict[str, Any] = field(default_factory=dict)
    # The sources' metadata (enrich.changes.source_marks) and the project's files
    # (dbtsession.project_digest) as the run found them before building: a later --changed with
    # both unchanged has nothing to do and says so without starting dbt.
    source_marks: str = ""
    project: str = ""
    started_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    job: str = JOB
    pg_pending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unfinished(self) -> bool:
        return self.status != "complete"

    @property
    def planned(self) -> bool:
        return bool(self.plan)

    @property
    def step(self) -> str:
        """The step in flight: the first not complete, else the last."""
        return next((s for s in self.steps if s not in self.steps_done), self.steps[-1] if self.steps else "")

    @property
    def total_batches(self) -> int:
        return len(self.plan)

    @property
    def total_pairs(self) -> int:
        return sum(r[2] for r in self.plan)

    def ranges_done(self, step: str | None = None) -> list[list[int]]:
        return self.done.get(step or self.step, [])

    def pairs_done(self, step: str | None = None) -> int:
        committed = {tuple(r) for r in self.ranges_done(step)}
        return sum(r[2] for r in self.plan if (r[0], r[1]) in committed)

    def state(self) -> dict[str, Any]:
        """The checkpoint as Postgres stores it: everything but the local outbox."""
        data = asdict(self)
        del data["pg_pending"]
        return data

    @classmethod
    def from_dict(cls, data: Any, origin: str) -> Checkpoint:
        """Validate a stored state; anything inconsistent raises DamagedCheckpoint naming `origin`."""

        def bad(reason: str) -> DamagedCheckpoint:
            return DamagedCheckpoint(f"checkpoint {origin} is damaged: {reason}")

        if not isinstance(data, dict):
            raise bad("it is not a JSON object")
        # Postgres stores the state without the local outbox; checkpoints from before the
        # refresh have no scope, marks or project digest
        data = {"pg_pending": [], "gates_exit": 0, "scope": False, "refresh": {}, "source_marks": "",
                "project": "", **data}
        if data.get("job") != JOB:
            raise bad(f"it belongs to job {data.get('job')!r}, not {JOB!r}")
        expected = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(expected))
        if unknown:
            raise bad(f"unknown field(s) {', '.join(unknown)} (written by another version?)")
        kinds: dict[str, type | tuple[type, ...]] = {
            "run_id": str,
            "warehouse": str,
            "mode": str,
            "step_request": str,
            "batch_size": (int, type(None)),
            "batch_partitions": int,
            "status": str,
            "steps": list,
            "steps_done": list,
            "tables": list,
            "dropped": bool,
            "plan": list,
            "done": dict,
            "signatures": dict,
            "gates_done": bool,
            "gates_exit": int,
            "scope": bool,
            "refresh": dict,
            "source_marks": str,
            "project": str,
            "started_at": str,
            "updated_at": str,
            "pg_pending": list,
        }
        for key, kind in kinds.items():
            value = data.get(key)
            if key not in data or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise bad(f"field {key!r} is missing or not a {getattr(kind, '__name__', 'valid value')}")
        if data["status"] not in STATUSES:
            raise bad(f"unknown status {data['status']!r}")
        if data["mode"] not in MODES:
            raise bad(f"unknown mode {data['mode']!r}")
        if not all(_ints(r, 3) for r in data["plan"]):
            raise bad("plan must be a list of [lo, hi, pairs]")
        for step, ranges in data["done"].items():
            if step not in data["steps"] or not all(_ints(r, 2) for r in ranges):
                raise bad(f"done[{step!r}] must be a list of [lo, hi] of a planned step")
            planned = {(r[0], r[1]) for r in data["plan"]}
            if any((r[0], r[1]) not in planned for r in ranges):
                raise bad(f"done[{step!r}] names a range that is not in the plan")
        if not all(isinstance(s, str) and s in data["steps"] for s in data["steps_done"]):
            raise bad("steps_done names a step the run does not run")
        if not all(k.isdigit() and _ints(v, 3) for k, v in data["signatures"].items()):
            raise bad("signatures must map batch keys to [flows, flows_hash, markets_hash]")
        for stamp in ("started_at", "updated_at"):
            try:
                datetime.fromisoformat(data[stamp])
            except ValueError:
                raise bad(f"{stamp} {data[stamp]!r} is not a timestamp") from None
        try:
            [LedgerRow(**row) for row in data["pg_pending"]]
        except TypeError:
            raise bad("pg_pending holds malformed ledger rows") from None
        return cls(**data)

    def newer_than(self, other: Checkpoint) -> bool:
        return (datetime.fromisoformat(self.updated_at), self.progress) > (
            datetime.fromisoformat(other.updated_at),
            other.progress,
        )

    @property
    def progress(self) -> int:
        return sum(len(r) for r in self.done.values()) + len(self.steps_done)


def _ints(value: Any, length: int) -> bool:
    return isinstance(value, list) and len(value) == length and all(type(x) is int for x in value)


def state_path(home: Path, warehouse: str) -> Path:
    """The state file of WAREHOUSE's run in HOME: one file per warehouse, so targets never mix."""
    readable = re.sub(r"[^A-Za-z0-9]+", "-", warehouse.split("://", 1)[-1]).strip("-")[-40:]
    digest = hashlib.sha256(warehouse.encode()).hexdigest()[:10]
    return home / f"{JOB}.{readable}-{digest}.state.json"


def write_local(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the state file atomically: a crash leaves the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(asdict(checkpoint), indent=1, sort_keys=True).encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        killpoints.reached("checkpoint")
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as ex:
        tmp.unlink(missing_ok=True)
        raise EnrichError(
            f"cannot write the checkpoint {path}: {ex.strerror or ex}; the previous "
            "checkpoint is intact (free space or fix the permissions, then "
            "`enrich run --resume`)"
        ) from None


def read_local(path: Path) -> Checkpoint | None:
    """The state file's checkpoint, None when there is none, DamagedCheckpoint when unreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as ex:
        raise DamagedCheckpoint(f"checkpoint {path} cannot be read: {ex}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as ex:
        raise DamagedCheckpoint(
            f"checkpoint {path} is damaged: invalid JSON at line {ex.lineno}, column {ex.colno} ({ex.msg})"
        ) from None
    return Checkpoint.from_dict(data, str(path))


def redact_url(url: str) -> str:
    """host:port/database of a Postgres URL or conninfo: enough to find it, never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable POSTGRES_URL>"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


def scrub(text: str, url: str) -> str:
    """An error message with the URL and its password taken out."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        password = None
    text = text.replace(url, redact_url(url))
    return text.replace(str(password), "***") if password else text


class PgStore:
    """The Postgres side: migrations, one checkpoint row per (job, warehouse), the batch ledger."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact_url(url)
        self._conn: psycopg.Connection | None = None

    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def error(self, ex: Exception) -> str:
        return scrub(str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__, self.url)

    def unreachable(self, ex: Exception, fix: str) -> EnrichError:
        return EnrichError(f"Postgres at {self.where} is unreachable ({self.error(ex)}); {fix}")

    def migrate(self) -> list[str]:
        """Apply each migration file once, each in its own transaction; returns those applied now."""
        conn = self.connection()
        applied = []
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('enrich.schema_migrations'))")
            conn.execute(
                "create table if not exists schema_migrations"
                " (version text primary key, applied_at timestamptz not null default now())"
            )
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            with conn.transaction():
                # Serialises concurrent runners: the second sees the first's row and skips.
                conn.execute("select pg_advisory_xact_lock(hashtext('enrich.schema_migrations'))")
                done = conn.execute("select 1 from schema_migrations where version = %s", [path.name])
                if done.fetchone():
                    continue
                conn.execute(path.read_text())
                conn.execute("insert into schema_migrations (version) values (%s)", [path.name])
                applied.append(path.name)
        return applied

    def load(self, warehouse: str) -> Checkpoint | None:
        row = (
            self.connection()
            .execute(
                "select state from ops_run_checkpoints where job = %s and warehouse = %s", [JOB, warehouse]
            )
            .fetchone()
        )
        return None if row is None else Checkpoint.from_dict(row[0], f"in Postgres {self.where}")

    def delete(self, warehouse: str) -> None:
        self.connection().execute(
            "delete from ops_run_checkpoints where job = %s and warehouse = %s", [JOB, warehouse]
        )

    def save(self, checkpoint: Checkpoint, ledger: list[LedgerRow],
             fence: tuple[str, int] | None = None) -> None:
        """Upsert the checkpoint and the ledger rows in one transaction; with FENCE (the holder
        token and epoch of the warehouse lock) only while the lock row still holds them, checked in
        that transaction: the row is read FOR SHARE, so a takeover (which updates it FOR UPDATE)
        waits for this commit, or this save sees the takeover and writes nothing."""
        conn = self.connection()
        with conn.transaction():
            if fence is not None:
                holder = conn.execute(
                    "select holder, epoch, host, pid, acquired_at from ops_warehouse_locks"
                    " where job = %s and warehouse = %s for share",
                    [checkpoint.job, checkpoint.warehouse],
                ).fetchone()
                if holder is None or (holder[0], holder[1]) != fence:
                    who = (f"pid {holder[3]} on host {holder[2]} (since {holder[4].isoformat()}), "
                           f"epoch {holder[1]}" if holder is not None
                           else "another runner (which has since released it)")
                    raise LockLost(
                        f"the warehouse lock was taken over by {who}; this run stopped without writing"
                    )
            conn.execute(
                """
                insert into ops_run_checkpoints (job, warehouse, run_id, status, step, batches_done,
                    total_batches, pairs_done, total_pairs, state, updated_at)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (job, warehouse) do update set
                    run_id = excluded.run_id, status = excluded.status, step = excluded.step,
                    batches_done = excluded.batches_done, total_batches = excluded.total_batches,
                    pairs_done = excluded.pairs_done, total_pairs = excluded.total_pairs,
                    state = excluded.state, updated_at = excluded.updated_at
                """,
                [
                    checkpoint.job,
                    checkpoint.warehouse,
                    checkpoint.run_id,
                    checkpoint.status,
                    checkpoint.step,
                    len(checkpoint.ranges_done()),
                    checkpoint.total_batches,
                    checkpoint.pairs_done(),
                    checkpoint.total_pairs,
                    Jsonb(checkpoint.state()),
                    checkpoint.updated_at,
                ],
            )
            with conn.cursor() as cur:
                cur.executemany(
                    """
                    insert into ops_batch_ledger (run_id, step, batch_idx, key_lo, key_hi, pairs,
                        rows_written, seconds, status, finished_at, warehouse)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    on conflict (run_id, step, batch_idx) do nothing
                    """,
                    [
                        [
                            r.run_id,
                            r.step,
                            r.batch_idx,
                            r.key_lo,
                            r.key_hi,
                            r.pairs,
                            r.rows_written,
                            r.seconds,
                            r.status,
                            r.finished_at,
                            checkpoint.warehouse,
                        ]
                        for r in ledger
                    ],
                )


class Fence(Protocol):
    """The warehouse lock as a checkpoint sees it (enrich.locks.WarehouseLock)."""

    @property
    def pg_fence(self) -> tuple[str, int] | None: ...

    def check(self) -> None: ...


class CheckpointWriter:
    """Commits checkpoints: the local file always, Postgres when reachable, with backoff when not.

    Ledger rows are queued in the local file whenever a Postgres URL is configured, even while
    Postgres is switched off for this run (--local-checkpoints-only): a later run with Postgres
    sends them.
    """

    def __init__(
        self, path: Path, store: PgStore | None, log: Callable[[str], None], queue_ledger: bool
    ) -> None:
        self.path = path
        self.store = store
        self.log = log
        self.queue_ledger = queue_ledger
        self._failures = 0
        self._next_try = 0.0
        # the warehouse lock of a server warehouse: no checkpoint is written once it is lost
        self.fence: Fence | None = None
        # A runner killed between writing and renaming left its temp file; only the holder of the
        # run lock builds a writer, so no other write is in flight.
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)

    def commit(self, checkpoint: Checkpoint, ledger_row: LedgerRow | None = None) -> None:
        if self.fence is not None:
            # before the local file too: a runner that lost the lock records nothing it did not do
            self.fence.check()
        checkpoint.updated_at = now_iso()
        if ledger_row is not None and self.queue_ledger:
            checkpoint.pg_pending.append(asdict(ledger_row))
        write_local(self.path, checkpoint)
        self.sync(checkpoint)

    def sync(self, checkpoint: Checkpoint, force: bool = False) -> bool:
        """Send the latest state and every unconfirmed ledger row; False while Postgres is away."""
        if self.store is None:
            return True
        if not force and time.monotonic() < self._next_try:
            return False
        pending = [LedgerRow(**row) for row in checkpoint.pg_pending]
        try:
            self.store.save(checkpoint, pending,
                            fence=self.fence.pg_fence if self.fence is not None else None)
        except psycopg.Error as ex:
            self.store.close()
            self._failures += 1
            delay = min(60.0, 2.0**self._failures)
            self._next_try = time.monotonic() + delay
            self.log(
                f"warning: Postgres checkpoint at {self.store.where} failed ({self.store.error(ex)}); "
                f"the local file stays current, retrying in {delay:.0f}s"
            )
            return False
        if self._failures or len(pending) > 1:
            self.log(f"Postgres checkpoint at {self.store.where} caught up ({len(pending)} ledger rows)")
        self._failures = 0
        if pending:
            checkpoint.pg_pending.clear()
            write_local(self.path, checkpoint)
        return True
