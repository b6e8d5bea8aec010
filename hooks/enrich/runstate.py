"""The run-state core: how a run starts, which key ranges it builds, and how its checkpoint moves.

- `decide` is the start decision: a pure function of the options and the stored checkpoints.
- `RunState` owns the checkpoint of the run in flight. Its methods are the only transitions:
  begin (the request is recorded before any work), steps resolved, tables dropped (--fresh),
  reconcile (plan, or re-plan on resume against the data's per-key signatures), batch committed,
  step complete, gates done, stopped, complete. Each commits the checkpoint and emits an event.

A checkpoint records, per batch key, the signature of the data its committed ranges were built
from. On every start the runner recomputes the signatures from the freshly built flows and hands
them to `reconcile`: keys whose signature changed since their range committed are built again,
so a resume never leaves results computed from inputs that have since changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from enrich.checkpoints import Checkpoint, CheckpointWriter, DamagedCheckpoint, LedgerRow, now_iso
from enrich.errors import EnrichError, ExitCode, UsageError
from enrich.events import EventLog
from enrich.project import Step

Signature = tuple[int, ...]
Stored = Checkpoint | DamagedCheckpoint | None


@dataclass(frozen=True)
class Options:
    resume: bool = False
    fresh: bool = False
    changed: bool = False
    # None: not given on the command line (a resume keeps the recorded step)
    step: str | None = None

    @property
    def mode(self) -> str:
        return "fresh" if self.fresh else "changed" if self.changed else "run"


@dataclass(frozen=True)
class Decision:
    action: str  # new, resume or refuse
    message: str
    mode: str = "run"
    step: str = "all"
    # resume: the run to continue; new: the newest earlier run (the baseline of a changed run)
    checkpoint: Checkpoint | None = None
    exit_code: ExitCode = ExitCode.OK


def newest(local: Checkpoint | None, remote: Checkpoint | None) -> Checkpoint | None:
    if local and remote:
        return remote if remote.newer_than(local) else local
    return local or remote


def decide(
    options: Options, local: Stored, remote: Stored, present: Collection[str], postgres: str | None
) -> Decision:
    """What `enrich run` does with these options and these stored checkpoints.

    `present` names the warehouse's existing tables; `postgres` where the remote checkpoint lives
    (None without Postgres).
    """
    step = options.step or "all"
    valid_local = local if isinstance(local, Checkpoint) else None
    valid_remote = remote if isinstance(remote, Checkpoint) else None
    damaged = [c for c in (local, remote) if isinstance(c, DamagedCheckpoint)]
    latest = newest(valid_local, valid_remote)
    if options.fresh:
        said = f"{damaged[0]}; --fresh starts over and replaces it. " if damaged else ""
        return Decision(
            "new",
            f"{said}--fresh: a new run that drops and rebuilds every result table",
            "fresh",
            step,
            latest,
        )
    if damaged and latest is None:
        return Decision(
            "refuse",
            f"{damaged[0]}. There is no other checkpoint to resume from. Fix: "
            "`enrich run --fresh` starts over (or delete the damaged file)",
            exit_code=ExitCode.ERROR,
        )
    if damaged and not options.resume:
        return Decision(
            "refuse",
            f"{damaged[0]}. Postgres {postgres} has a checkpoint: `enrich run "
            "--resume` continues from it, `enrich run --fresh` starts over",
            exit_code=ExitCode.ERROR,
        )
    if latest is None:
        said = "no checkpoint: starting a new run" if options.resume else "a new run"
        return Decision("new", said, "changed" if options.changed else "run", step, None)
    if latest.unfinished:
        if options.step and options.step != latest.step_request:
            return Decision(
                "refuse",
                f"the unfinished run {latest.run_id} was asked for --step "
                f"{latest.step_request}; continue it with `enrich run --resume` (without "
                f"--step {options.step}) or start over with `enrich run --fresh`",
                exit_code=ExitCode.USAGE,
            )
        if options.resume or options.changed:
            how = "resuming" if options.resume else "--changed continues the unfinished run"
            return Decision(
                "resume",
                f"{how} {latest.run_id} ({describe(latest)})",
                latest.mode,
                latest.step_request,
                latest,
            )
        return Decision(
            "refuse",
            f"an unfinished run {latest.run_id} ({describe(latest)}) has a "
            "checkpoint; `enrich run --resume` continues it, `enrich run --fresh` starts over",
            exit_code=ExitCode.UNFINISHED,
        )
    missing = [t for t in latest.tables if t not in present]
    if missing and (options.resume or options.changed):
        return Decision(
            "new",
            f"the last run {latest.run_id} completed but {', '.join(missing)} "
            "is missing now: rebuilding every partition",
            "run",
            step,
            latest,
        )
    if options.resume:
        # a complete run is brought up to date: keys whose data changed since are rebuilt
        return Decision(
            "new",
            f"the last run {latest.run_id} is complete: rebuilding only what changed since",
            "changed",
            options.step or latest.step_request,
            latest,
        )
    return Decision("new", "a new run", options.mode, step, latest)


def describe(checkpoint: Checkpoint) -> str:
    if not checkpoint.planned:
        return f"{checkpoint.status}, not planned yet"
    return (
        f"{checkpoint.status}, step {checkpoint.step}, {len(checkpoint.ranges_done())}/"
        f"{checkpoint.total_batches} batches"
    )


def pack_ranges(key_pairs: Sequence[int], batch_size: int, lo: int = 0) -> list[tuple[int, int]]:
    """Cover keys LO..LO+len-1 with contiguous ranges of about `batch_size` pairs.

    Greedy: a range closes before the key that would push it over `batch_size`, unless it holds
    no pairs yet (so a key larger than `batch_size` gets a range of its own). Keys with no pairs
    never open a range: they join the one they fall in, so every key belongs to exactly one range
    and vacated partitions are still rebuilt (emptied).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1 pair, got {batch_size}")
    if not key_pairs:
        return []
    ranges: list[tuple[int, int]] = []
    start, filled = 0, 0
    for key, pairs in enumerate(key_pairs):
        if pairs > 0 and filled > 0 and filled + pairs > batch_size:
            ranges.append((lo + start, lo + key - 1))
            start, filled = key, 0
        filled += pairs
    ranges.append((lo + start, lo + len(key_pairs) - 1))
    return ranges


def key_runs(keys: Collection[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive keys."""
    runs: list[list[int]] = []
    for key in sorted(keys):
        if runs and runs[-1][1] == key - 1:
            runs[-1][1] = key
        else:
            runs.append([key, key])
    return [(lo, hi) for lo, hi in runs]


def ranges_over(keys: Collection[int], key_pairs: Sequence[int], batch_size: int) -> list[tuple[int, int]]:
    """Contiguous runs of KEYS, each split into batches of about `batch_size` pairs."""
    return [r for lo, hi in key_runs(keys) for r in pack_ranges(key_pairs[lo : hi + 1], batch_size, lo)]


def changed_keys(before: Mapping[int, Signature], after: Mapping[int, Signature]) -> set[int]:
    """Keys whose signature differs, including keys that gained or lost every flow."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


@dataclass(frozen=True)
class Reconciled:
    # batch keys whose data changed since their committed range was built
    stale: tuple[int, ...]
    # ranges added to the plan for changed keys it did not cover
    added: tuple[tuple[int, int], ...]


class RunState:
    """The checkpoint of the run in flight and its transitions."""

    def __init__(self, checkpoint: Checkpoint, writer: CheckpointWriter, events: EventLog) -> None:
        self.checkpoint = checkpoint
        self.writer = writer
        self.events = events

    @classmethod
    def begin(
        cls,
        decision: Decision,
        warehouse: str,
        batch_size: int | None,
        batch_partitions: int,
        writer: CheckpointWriter,
        events: EventLog,
    ) -> RunState:
        """A new run, recorded before any work so a kill at any later moment can be resumed."""
        baseline = decision.checkpoint
        # --changed builds what differs from the last complete run of the same steps (or of
        # every step); without one it rebuilds every partition
        usable = (
            decision.mode == "changed"
            and baseline is not None
            and not baseline.unfinished
            and baseline.step_request in ("all", decision.step)
            and baseline.batch_partitions == batch_partitions
        )
        mode = "run" if decision.mode == "changed" and not usable else decision.mode
        checkpoint = Checkpoint(
            run_id=uuid.uuid4().hex,
            warehouse=warehouse,
            mode=mode,
            step_request=decision.step,
            batch_size=batch_size,
            batch_partitions=batch_partitions,
            signatures=dict(baseline.signatures) if usable and baseline else {},
        )
        # pending ledger rows of the previous run still have to reach Postgres
        if baseline is not None:
            checkpoint.pg_pending = list(baseline.pg_pending)
        state = cls(checkpoint, writer, events)
        state._commit(
            "run_started", mode=checkpoint.mode, step=checkpoint.step_request, reason=decision.message
        )
        return state

    @classmethod
    def resume(cls, checkpoint: Checkpoint, writer: CheckpointWriter, events: EventLog) -> RunState:
        checkpoint.status = "running"
        state = cls(checkpoint, writer, events)
        state._commit("run_resumed", step=checkpoint.step, batches_done=len(checkpoint.ranges_done()))
        return state

    # -- transitions ----------------------------------------------------------------------------

    def set_steps(self, steps: Sequence[Step]) -> None:
        names = [s.name for s in steps]
        tables = [m for s in steps for m in s.models]
        cp = self.checkpoint
        if cp.steps and cp.steps != names:
            raise EnrichError(f"the run was started for steps {cp.steps}, the project now gives {names}")
        if cp.steps != names or cp.tables != tables:
            cp.steps, cp.tables = names, tables
            self._commit()

    def tables_missing(self, steps: Sequence[Step], present: Collection[str]) -> list[str]:
        """Forget the committed batches of every step one of whose tables is gone (dropped by
        hand, or lost with a damaged engine file): they are built again. Returns those steps."""
        cp = self.checkpoint
        lost = [
            s.name
            for s in steps
            if any(m not in present for m in s.models) and (cp.done.get(s.name) or s.name in cp.steps_done)
        ]
        for name in lost:
            cp.done[name] = []
            if name in cp.steps_done:
                cp.steps_done.remove(name)
        if lost:
            cp.gates_done = False
            self._commit("tables_missing", steps=lost)
        return lost

    def tables_dropped(self, tables: Sequence[str]) -> None:
        self.checkpoint.dropped = True
        self._commit("tables_dropped", tables=list(tables))

    def reconcile(
        self, current: Mapping[int, Signature], key_pairs: Sequence[int], batch_size: int
    ) -> Reconciled:
        """Plan the run, or bring a resumed plan up to date with the data's current signatures."""
        cp = self.checkpoint
        cp.batch_size = batch_size
        built = {int(k): tuple(v) for k, v in cp.signatures.items()}
        changed = changed_keys(built, current)
        if not cp.planned:
            if cp.mode == "changed":
                ranges = ranges_over(changed, key_pairs, batch_size)
            else:
                ranges = pack_ranges(key_pairs, batch_size)
            cp.plan = [[lo, hi, sum(key_pairs[lo : hi + 1])] for lo, hi in ranges]
            cp.done = {}
            stale: tuple[int, ...] = ()
            added: tuple[tuple[int, int], ...] = ()
        else:
            stale = tuple(sorted(changed))
            covered = {k for lo, hi, _ in cp.plan for k in range(lo, hi + 1)}
            added = tuple(ranges_over([k for k in stale if k not in covered], key_pairs, batch_size))
            cp.plan = [[lo, hi, sum(key_pairs[lo : hi + 1])] for lo, hi, _ in cp.plan] + [
                [lo, hi, sum(key_pairs[lo : hi + 1])] for lo, hi in added
            ]
            for step in list(cp.done):
                cp.done[step] = [r for r in cp.done[step] if not any(r[0] <= k <= r[1] for k in stale)]
            if stale:
                cp.gates_done = False
        # a step is complete exactly when every range of the plan is committed for it: ranges
        # added for changed keys reopen a step that had finished (even one with nothing to build)
        cp.steps_done = [s for s in cp.steps if not self.remaining(s) and (s in cp.steps_done or not cp.plan)]
        cp.signatures = {str(k): list(v) for k, v in sorted(current.items())}
        self._commit(
            "planned",
            batches=len(cp.plan),
            pairs=cp.total_pairs,
            stale_keys=len(stale),
            added_ranges=len(added),
        )
        return Reconciled(stale, added)

    def refresh_started(self) -> None:
        """This --changed run refreshes a scope of conditions (recorded before the scope is
        written, so a resume keeps refreshing and widens the scope rather than starting over)."""
        self.checkpoint.scope = True
        self._commit("refresh_started")

    def plan_scope(self, plan: Sequence[Sequence[int]], refresh: dict[str, Any]) -> None:
        """Plan (or re-plan, after more data arrived) the refresh: every step builds every batch.
        REFRESH is what changed and what the plan rebuilds (enrich status shows it)."""
        cp = self.checkpoint
        cp.plan = [list(batch) for batch in plan]
        cp.done = {}
        cp.steps_done = [] if plan else list(cp.steps)
        cp.gates_done = not plan
        cp.refresh = refresh
        self._commit("planned", batches=len(cp.plan), pairs=cp.total_pairs, refresh=refresh)

    def marks(self, source_marks: str, project: str) -> None:
        """The sources and project the results are built from (recorded with the plan)."""
        self.checkpoint.source_marks, self.checkpoint.project = source_marks, project
        self._commit()

    def remaining(self, step: str) -> list[list[int]]:
        """The plan ranges STEP has not committed, in plan order."""
        committed = {tuple(r) for r in self.checkpoint.ranges_done(step)}
        return [r for r in self.checkpoint.plan if (r[0], r[1]) not in committed]

    def batch_committed(self, step: str, batch: Sequence[int], rows: int, seconds: float) -> LedgerRow:
        cp = self.checkpoint
        lo, hi, pairs = batch
        cp.done.setdefault(step, []).append([lo, hi])
        row = LedgerRow(
            run_id=cp.run_id,
            step=step,
            batch_idx=cp.plan.index(list(batch)),
            key_lo=lo,
            key_hi=hi,
            pairs=pairs,
            rows_written=rows,
            seconds=round(seconds, 3),
            status="committed",
            finished_at=now_iso(),
        )
        self._commit(
            "batch_committed",
            ledger=row,
            step=step,
            batch=row.batch_idx + 1,
            batches=cp.total_batches,
            key_lo=lo,
            key_hi=hi,
            pairs=pairs,
            rows=rows,
            seconds=row.seconds,
        )
        return row

    def step_complete(self, step: str) -> None:
        if step not in self.checkpoint.steps_done:
            self.checkpoint.steps_done.append(step)
        self._commit("step_completed", step=step, pairs=self.checkpoint.pairs_done(step))

    def gates_done(self, exit_code: int) -> None:
        self.checkpoint.gates_done = True
        self.checkpoint.gates_exit = exit_code
        self._commit("gates_done", exit_code=exit_code)

    def complete(self) -> None:
        self.checkpoint.status = "complete"
        self._commit("run_completed")
        self.writer.sync(self.checkpoint, force=True)

    def stopped(self, signal_name: str) -> None:
        self.checkpoint.status = "stopped"
        self._commit("run_stopped", signal=signal_name)
        self.writer.sync(self.checkpoint, force=True)

    def _commit(self, event: str | None = None, ledger: LedgerRow | None = None, **fields: object) -> None:
        self.writer.commit(self.checkpoint, ledger)
        if event:
            self.events.emit(event, run_id=self.checkpoint.run_id, **fields)


# Every batch pays a fixed cost (a dbt invocation and a partition replace per model, about 0.5 s
# in `make bench`) and there are no mutations to pace, so the default is as few batches as
# MAX_DEFAULT_BATCH_PAIRS allows, of even size. That bound caps what one batch holds in memory
# and what a crash can cost: a batch of a million pairs is about 10 M flows, well under a minute.
MAX_DEFAULT_BATCH_PAIRS = 1_000_000


def default_batch_size(key_pairs: Sequence[int]) -> int:
    """The batch size for pairs spread over batch keys as KEY_PAIRS."""
    total = sum(key_pairs)
    batches = max(1, -(-total // MAX_DEFAULT_BATCH_PAIRS))
    # pack_ranges closes a range before the key that would overflow it, so every closed range holds
    # more than size - max(key) pairs: one key of slack keeps the plan at `batches` ranges, unless
    # the slack would break the bound (then one short range more)
    even = -(-total // batches)
    return max(1, min(MAX_DEFAULT_BATCH_PAIRS, even + max(key_pairs, default=0)), even)


def batch_size_option(flag: int | None, environ: Mapping[str, str]) -> int | None:
    """`--batch-size`, else $BATCH_SIZE; None leaves the size to the plan (or the resumed run)."""
    if flag is not None:
        value, origin = flag, "--batch-size"
    elif environ.get("BATCH_SIZE"):
        raw = environ["BATCH_SIZE"]
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"BATCH_SIZE must be a whole number of pairs, got {raw!r}") from None
        origin = "BATCH_SIZE"
    else:
        return None
    if value < 1:
        raise UsageError(f"{origin} must be at least 1 pair, got {value}")
    return value
