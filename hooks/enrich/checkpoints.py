"""Checkpoints of committed batches: an atomic local state file, mirrored to Postgres when configured.

The local file is written first and is always current. Postgres may lag while it is unreachable:
ledger rows it has not confirmed stay in the file (`pg_pending`) and are sent when it answers again,
even by a later, resumed process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from enrich import killpoints
from enrich.errors import EnrichError

JOB = "full-enrichment"
STATUSES = ("running", "stopped", "complete")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DamagedCheckpoint(EnrichError):
    """The state file exists but cannot be trusted."""


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
    step: str
    batch_partitions: int
    plan_fingerprint: str
    total_batches: int
    total_pairs: int
    # Kept so a resume packs the same plan without repeating --batch-size.
    batch_size: int
    status: str = "running"
    # Index of the last committed batch of `step`; -1 before the first commits.
    batch_idx: int = -1
    pairs_done: int = 0
    last_mutations: int = 0
    ranges_done: list[list[int]] = field(default_factory=list)
    steps_done: list[str] = field(default_factory=list)
    updated_at: str = field(default_factory=now_iso)
    job: str = JOB
    pg_pending: list[dict[str, Any]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """The checkpoint as Postgres stores it: everything but the local outbox."""
        data = asdict(self)
        del data["pg_pending"]
        return data

    @property
    def unfinished(self) -> bool:
        return self.status != "complete"

    @classmethod
    def from_dict(cls, data: Any, origin: str) -> Checkpoint:
        """Validate a stored state; anything inconsistent raises DamagedCheckpoint naming `origin`."""
        def bad(reason: str) -> DamagedCheckpoint:
            return DamagedCheckpoint(f"checkpoint {origin} is damaged: {reason}")

        if not isinstance(data, dict):
            raise bad("it is not a JSON object")
        if data.get("job") != JOB:
            raise bad(f"it belongs to job {data.get('job')!r}, not {JOB!r}")
        types = {
            "run_id": str, "step": str, "batch_partitions": int, "plan_fingerprint": str,
            "total_batches": int, "total_pairs": int, "batch_size": int, "status": str, "batch_idx": int,
            "pairs_done": int, "last_mutations": int, "ranges_done": list, "steps_done": list,
            "updated_at": str,
        }
        for key, kind in types.items():
            if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
                raise bad(f"field {key!r} is missing or not a {kind.__name__}")
        if data["status"] not in STATUSES:
            raise bad(f"unknown status {data['status']!r}")
        ranges = data["ranges_done"]
        pairs_ok = (isinstance(r, list) and len(r) == 2 and all(type(x) is int for x in r) for r in ranges)
        if not all(pairs_ok):
            raise bad("ranges_done must be a list of [lo, hi] pairs")
        if data["batch_idx"] != len(ranges) - 1:
            raise bad(f"batch_idx {data['batch_idx']} does not match {len(ranges)} ranges done")
        if data["batch_idx"] >= data["total_batches"]:
            raise bad(f"batch_idx {data['batch_idx']} is beyond the plan's {data['total_batches']} batches")
        try:
            datetime.fromisoformat(data["updated_at"])
        except ValueError:
            raise bad(f"updated_at {data['updated_at']!r} is not a timestamp") from None
        pending = data.get("pg_pending", [])
        try:
            [LedgerRow(**row) for row in pending]
        except TypeError:
            raise bad("pg_pending holds malformed ledger rows") from None
        return cls(**{k: data[k] for k in (*types, "job")}, pg_pending=list(pending))

    def newer_than(self, other: Checkpoint) -> bool:
        return (datetime.fromisoformat(self.updated_at), self.batch_idx) > (
            datetime.fromisoformat(other.updated_at), other.batch_idx)


def state_path(home: Path) -> Path:
    return home / f"{JOB}.state.json"


def write_local(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the state file atomically: a crash leaves the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(asdict(checkpoint), indent=2, sort_keys=True).encode()
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
    """The Postgres side: migrations, the per-step checkpoint row and the batch ledger."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact_url(url)
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def error(self, ex: Exception) -> str:
        return scrub(str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__, self.url)

    def migrate(self) -> list[str]:
        """Apply each migration file once, each in its own transaction; returns those applied now."""
        conn = self._connection()
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

    def load(self) -> Checkpoint | None:
        row = self._connection().execute(
            "select state from ops_job_checkpoints where job = %s order by updated_at desc limit 1", [JOB]
        ).fetchone()
        return None if row is None else Checkpoint.from_dict(row[0], f"in Postgres {self.where}")

    def save(self, checkpoint: Checkpoint, ledger: list[LedgerRow]) -> None:
        conn = self._connection()
        with conn.transaction():
            conn.execute(
                """
                insert into ops_job_checkpoints (job, step, run_id, status, batch_idx, total_batches,
                    pairs_done, total_pairs, last_mutations, batch_partitions, plan_fingerprint, state,
                    updated_at)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (job, step) do update set
                    run_id = excluded.run_id, status = excluded.status, batch_idx = excluded.batch_idx,
                    total_batches = excluded.total_batches, pairs_done = excluded.pairs_done,
                    total_pairs = excluded.total_pairs, last_mutations = excluded.last_mutations,
                    batch_partitions = excluded.batch_partitions,
                    plan_fingerprint = excluded.plan_fingerprint, state = excluded.state,
                    updated_at = excluded.updated_at
                """,
                [checkpoint.job, checkpoint.step, checkpoint.run_id, checkpoint.status, checkpoint.batch_idx,
                 checkpoint.total_batches, checkpoint.pairs_done, checkpoint.total_pairs,
                 checkpoint.last_mutations, checkpoint.batch_partitions, checkpoint.plan_fingerprint,
                 Jsonb(checkpoint.state()), checkpoint.updated_at],
            )
            with conn.cursor() as cur:
                cur.executemany(
                    """
                    insert into ops_batch_ledger (run_id, step, batch_idx, key_lo, key_hi, pairs,
                        rows_written, seconds, status, finished_at)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    on conflict (run_id, step, batch_idx) do nothing
                    """,
                    [[r.run_id, r.step, r.batch_idx, r.key_lo, r.key_hi, r.pairs, r.rows_written,
                      r.seconds, r.status, r.finished_at] for r in ledger],
                )


class CheckpointWriter:
    """Commits checkpoints: the local file always, Postgres when reachable, with backoff when not."""

    def __init__(self, path: Path, store: PgStore | None, log: Callable[[str], None]) -> None:
        self.path = path
        self.store = store
        self.log = log
        self._failures = 0
        self._next_try = 0.0
        # A runner killed between writing and renaming left its temp file; only the holder of the
        # run lock builds a writer, so no other write is in flight.
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)

    def commit(self, checkpoint: Checkpoint, ledger_row: LedgerRow | None = None) -> None:
        checkpoint.updated_at = now_iso()
        if ledger_row is not None and self.store is not None:
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
            self.store.save(checkpoint, pending)
        except psycopg.Error as ex:
            self.store.close()
            self._failures += 1
            delay = min(60.0, 2.0 ** self._failures)
            self._next_try = time.monotonic() + delay
            self.log(f"warning: Postgres checkpoint at {self.store.where} failed ({self.store.error(ex)}); "
                     f"the local file stays current, retrying in {delay:.0f}s")
            return False
        if self._failures or len(pending) > 1:
            self.log(f"Postgres checkpoint at {self.store.where} caught up ({len(pending)} ledger rows)")
        self._failures = 0
        checkpoint.pg_pending.clear()
        write_local(self.path, checkpoint)
        return True
