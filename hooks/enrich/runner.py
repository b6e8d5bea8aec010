"""`enrich run`: Steps D and E in resumable batches of batch-key ranges, then the gates.

The runner is a thin client of the run-state core: `runstate.decide` says whether to start,
resume or refuse; `RunState` records every transition; `Executor` runs dbt. One process, one
parsed manifest: the upstream models are built once, then every batch runs the step's batched
models for one contiguous key range (insert_overwrite of those partitions, so redoing a batch is
idempotent). A batch is recorded in the checkpoint only after its partitions are replaced.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import psycopg
import yaml

from enrich import contracts, gates, killpoints, mutations, space, summary, swap
from enrich.changes import key_figures, source_marks
from enrich.checkpoints import (
    Checkpoint,
    CheckpointWriter,
    DamagedCheckpoint,
    PgStore,
    read_local,
    state_path,
)
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.errors import Cancelled, EnrichError, ExitCode, LockLost, UnfinishedRun, UsageError
from enrich.events import EventLog
from enrich.executor import Executor
from enrich.locks import ClickHouseLockBackend, PgLockBackend, RunLock, WarehouseLock
from enrich.progress import Console, Progress, since
from enrich.project import (
    FLOWS_MODEL,
    QUARANTINE_MODEL,
    Step,
    project_digest,
    result_tables,
    select_steps,
    steps_from_manifest,
)
from enrich.runstate import (
    MAX_DEFAULT_BATCH_PAIRS,
    Decision,
    Options,
    RunState,
    batch_size_option,
    decide,
    default_batch_size,
    newest,
)
from enrich.scope import DIGESTS_RECORDED, RefreshScope, account, describe
from enrich.stopping import QueryKiller, StopFlag
from enrich.warehouse import Target, connect, identity, resolve_target

# a model that takes this long gets a line on screen as well as in the console log
MODEL_LINE_SECONDS = 5.0


def batch_partitions_var(config: Config) -> int:
    """The `batch_partitions` var of dbt_project.yml: the P the models are compiled with."""
    path = config.project_dir / "dbt_project.yml"
    value = (yaml.safe_load(path.read_text()).get("vars") or {}).get("batch_partitions")
    if not isinstance(value, int) or value < 1:
        raise EnrichError(f"{path}: vars.batch_partitions must be a positive integer, got {value!r}")
    return value


def open_store(local_only: bool, say: Any) -> PgStore | None:
    url = os.environ.get("POSTGRES_URL")
    if not url:
        return None
    store = PgStore(url)
    if local_only:
        say(
            f"Postgres checkpoints at {store.where} disabled (--local-checkpoints-only); ledger rows "
            "wait in the state file until a run with Postgres sends them"
        )
        return None
    try:
        applied = store.migrate()
    except psycopg.Error as ex:
        store.close()
        raise store.unreachable(
            ex,
            "start it, fix POSTGRES_URL, or run with --local-checkpoints-only "
            "to keep checkpoints in the local file only",
        ) from None
    if applied:
        say(f"Postgres {store.where}: applied migrations {', '.join(applied)}")
    return store


def load_checkpoints(store: PgStore | None, path: Any, warehouse: str) -> tuple[Any, Any]:
    """(local, remote): each a Checkpoint, a DamagedCheckpoint or None."""
    try:
        local: Any = read_local(path)
    except DamagedCheckpoint as ex:
        local = ex
    try:
        remote: Any = store.load(warehouse) if store is not None else None
    except DamagedCheckpoint as ex:
        remote = ex
    return local, remote


class Runner:
    def __init__(self, config: Config, args: argparse.Namespace, console: Console, stop: StopFlag) -> None:
        self.config = config
        self.args = args
        self.console = console
        self.say = console.say
        self.stop = stop
        self.policy = mutations.MutationPolicy.from_env()
        self.options = Options(resume=args.resume, fresh=args.fresh, changed=args.changed, step=args.step)
        self.started = time.monotonic()

    def run(self) -> int:
        target = resolve_target(self.config)
        warehouse = identity(target)
        store = open_store(self.args.local_checkpoints_only, self.say)
        lock: WarehouseLock | None = None
        killer: Any = None
        try:
            client = connect(target)
            # a connection of the watchdog's own: the kill must not wait behind the query it kills
            killer = connect(target)
            self.stop.killer = QueryKiller(killer, target.embedded)
            ddl = Ddl.for_target(client, target)
            if not target.embedded:
                lock = self._lock_warehouse(target, ddl, store, warehouse)
            recovered = swap.recover_interrupted_load(client, ddl)
            if recovered:
                self.say(recovered)
            path = state_path(self.config.home, warehouse)
            local, remote = load_checkpoints(store, path, warehouse)
            unchanged = self._unchanged_since(local, remote, ddl, store is not None)
            if unchanged is not None:
                self.say(f"the last run {unchanged.run_id} is complete and nothing changed since (the same "
                         "source data and project): nothing to rebuild")
                EventLog(self.config.home).emit("nothing_changed", run_id=unchanged.run_id)
                if unchanged.step_request == "all":
                    self._summarize(client, target.database)
                return unchanged.gates_exit
            session = DbtSession(self.config)
            session.cancelled = lambda: self.stop.cancelled
            session.on_model = self._model_done
            executor = Executor(session, ddl, self.config.home / "dbt" / "runs")
            if lock is not None:
                # fencing: every write this run commits (dbt's statements, the tables it drops,
                # the checkpoints) first checks that the lock is still ours
                session.fence = executor.fence = lock.check
            present = executor.existing(_every_table(local, remote))
            decision = decide(self.options, local, remote, present, store.where if store else None)
            if decision.action == "refuse":
                error = {ExitCode.UNFINISHED: UnfinishedRun, ExitCode.USAGE: UsageError}.get(
                    decision.exit_code, EnrichError
                )
                raise error(decision.message)
            # after the checkpoint's own refusals (a damaged or unfinished checkpoint says more),
            # before anything is built
            contracts.require_sources(client, target.database)
            if contracts.check_times(client, target.database, fresh=self.options.fresh):
                # --fresh over millisecond source tables: widen them before anything is built
                session.run_operation("create_sources")
                self.say("widened the source tables' times to microseconds")
            self.say(decision.message)
            writer = CheckpointWriter(
                path, store, self.say, queue_ledger=bool(os.environ.get("POSTGRES_URL"))
            )
            writer.fence = lock
            with space.reported(target, "the batches committed so far stay checkpointed; free some "
                                        "space, then `enrich run --resume`"):
                return self._run(decision, writer, executor, warehouse)
        finally:
            self.stop.killer = None
            if killer is not None:
                killer.close()
            if lock is not None:
                lock.release()
            if store is not None:
                store.close()

    def _model_done(self, name: str, status: str, seconds: float) -> None:
        # every model in the log; on screen the slow ones only, or a run prints dozens of views
        line = f"  model {name}: {status} in {seconds:.1f} s"
        if seconds >= MODEL_LINE_SECONDS:
            self.say(line)
        else:
            self.console.note(line)

    def _unchanged_since(self, local: Any, remote: Any, ddl: Ddl, has_store: bool) -> Checkpoint | None:
        """The complete run a --changed (or --resume) would find nothing to add to, if any: same
        source metadata, same project files, every result table there, and both checkpoints
        saying so. Decided from metadata alone, before dbt starts."""
        if not (self.options.changed or self.options.resume) or self.options.fresh:
            return None
        # a damaged or lagging checkpoint, or ledger rows still queued for Postgres, are for the
        # full start decision to report, replace or send
        if any(isinstance(c, DamagedCheckpoint) for c in (local, remote)):
            return None
        latest = newest(*(c if isinstance(c, Checkpoint) else None for c in (local, remote)))
        if latest is None or latest.unfinished or not latest.source_marks:
            return None
        if local is None or local.pg_pending:
            return None
        if has_store and (remote is None or (remote.run_id, remote.status) != (local.run_id, local.status)):
            return None
        if latest.step_request != "all" and (self.options.step or latest.step_request) != latest.step_request:
            return None
        present = {r[0] for r in ddl.client.query(
            "select name from system.tables where database = {db:String}",
            parameters={"db": ddl.database}).result_rows}
        if any(t not in present for t in latest.tables):
            return None
        if latest.project != project_digest(self.config.project_dir):
            return None
        return latest if latest.source_marks == source_marks(ddl.client, ddl) else None

    def _lock_warehouse(
        self, target: Target, ddl: Ddl, store: PgStore | None, warehouse: str
    ) -> WarehouseLock:
        if store is not None:
            backend: Any = PgLockBackend(store, warehouse)
        else:
            backend = ClickHouseLockBackend(ddl, Ddl.for_target(connect(target), target), warehouse)
        lock = WarehouseLock(backend, warehouse)
        previous = lock.acquire()
        if previous is not None:
            self.say(f"took over the warehouse lock of {previous.describe()}, which is no longer running"
                     f" (lock epoch {lock.epoch})")
        return lock

    def _run(self, decision: Decision, writer: CheckpointWriter, executor: Executor, warehouse: str) -> int:
        partitions = batch_partitions_var(self.config)
        size_option = batch_size_option(self.args.batch_size, os.environ)
        events = EventLog(self.config.home)
        if decision.action == "resume":
            assert decision.checkpoint is not None
            if decision.checkpoint.batch_partitions != partitions:
                raise UsageError(
                    f"the run was started with batch_partitions={decision.checkpoint.batch_partitions} "
                    f"but dbt_project.yml now has {partitions}; run `enrich run --fresh`"
                )
            state = RunState.resume(decision.checkpoint, writer, events)
        else:
            state = RunState.begin(decision, warehouse, size_option, partitions, writer, events)
            self.say(
                f"run {state.checkpoint.run_id} started ({state.checkpoint.mode}, "
                f"step {state.checkpoint.step_request})"
            )
        executor.artifacts = executor.artifacts / state.checkpoint.run_id
        try:
            return self._steps(state, executor, decision, partitions, size_option)
        except Exception as ex:
            # a lost lock is not ours to checkpoint over, cancelled or not
            if self.stop.cancelled and not isinstance(ex, LockLost):
                return self._cancelled(state, ex)
            events.emit(
                "run_failed",
                run_id=state.checkpoint.run_id,
                error=str(ex).splitlines()[0][:500] if str(ex) else type(ex).__name__,
            )
            raise

    def _cancelled(self, state: RunState, ex: Exception) -> int:
        """The second signal cancelled the work in flight: whatever dbt call failed with it, the
        checkpoint holds the batches committed before, and the run is recorded as stopped."""
        cp = state.checkpoint
        state.stopped(self.stop.name)
        what = str(ex).splitlines()[0] if isinstance(ex, Cancelled) and str(ex) else "the work in flight"
        done = ", ".join(f"{len(cp.ranges_done(s))}/{cp.total_batches} batches of step {s}"
                         for s in cp.steps if s not in cp.steps_done) or "every step's batches"
        self.say(f"cancelled: {what}; nothing of it is checkpointed ({done} are); "
                 "continue with `enrich run --resume`")
        return self.stop.exit_code

    def _steps(
        self,
        state: RunState,
        executor: Executor,
        decision: Decision,
        partitions: int,
        size_option: int | None,
    ) -> int:
        cp = state.checkpoint
        killpoints.reached("startup")
        all_steps = steps_from_manifest(executor.session.manifest)
        steps = select_steps(all_steps, cp.step_request)
        killpoints.reached("parsed")
        state.set_steps(steps)
        if cp.mode == "fresh" and not cp.dropped:
            # every step's tables: a rebuilt Step D leaves no older Step E result usable
            every = result_tables(all_steps)
            executor.drop(every)
            state.tables_dropped(every)
            self.say(f"--fresh: dropped {', '.join(every)}")
        lost = state.tables_missing(steps, executor.existing(cp.tables))
        if lost:
            self.say(f"step(s) {', '.join(lost)}: a result table is missing; its batches are built again")
        beyond = executor.tables_beyond(tuple(m for s in steps for m in s.batched), partitions)
        if beyond:
            raise UsageError(f"{', '.join(beyond)} hold batch keys >= {partitions}: they were built with a "
                             "larger batch_partitions than dbt_project.yml has now; run `enrich run --fresh`")
        left = executor.drop_leftovers(cp.tables)
        if left:
            self.say(f"dropped {len(left)} staging table(s) left by an interrupted run")
        # a mutation of a source still pending would be applied after the flows were built from
        # the rows before it
        self._wait_mutations(executor)
        # before anything is read: rows arriving later differ from these marks, so the next
        # --changed picks them up
        marks = source_marks(executor.client, executor.ddl)
        project = project_digest(self.config.project_dir)
        refreshing = (cp.mode == "changed" and not cp.planned
                      and self._can_refresh(decision, executor, project))
        if cp.scope or refreshing:
            return self._refresh(state, executor, steps, size_option, marks, project)
        self.say("building the upstream models")
        upstream_started = time.monotonic()
        executor.upstream(steps)
        self.say(f"upstream models built in {since(upstream_started)}")
        figures = key_figures(executor.client, executor.ddl.database, partitions)
        batch_size = size_option or cp.batch_size or default_batch_size(figures.pairs)
        if cp.step_request == "E" and not cp.planned:
            self._check_step_d_current(decision, figures.signatures)
        first_plan = not cp.planned
        reconciled = state.reconcile(figures.signatures, figures.pairs, batch_size)
        state.marks(marks, project)
        killpoints.reached("planned")
        if first_plan and cp.mode == "changed" and decision.checkpoint is not None:
            keys = sum(hi - lo + 1 for lo, hi, _ in cp.plan)
            shown = ", ".join(f"{lo}-{hi}" for lo, hi, _ in cp.plan[:12])
            shown += " ..." if len(cp.plan) > 12 else ""
            self.say(f"--changed: {keys} of {partitions} keys changed since run {decision.checkpoint.run_id}"
                     f" ({shown or 'none'})")
        if reconciled.stale:
            self.say(
                f"the data of {len(reconciled.stale)} batch key(s) changed since their batches were "
                f"built: rebuilding them ({_keys(reconciled.stale)})"
            )
        self.say(
            f"plan: {_batches(cp.total_batches)} over {partitions} keys, {cp.total_pairs:,} pairs "
            f"(batch size {batch_size:,})" + (" - nothing changed" if not cp.plan else "")
        )
        return self._build_steps(state, steps, executor)

    def _build_steps(self, state: RunState, steps: tuple[Step, ...], executor: Executor,
                     gate_vars: dict[str, Any] | None = None) -> int:
        cp = state.checkpoint
        for step in steps:
            if step.name in cp.steps_done:
                continue
            step_started = time.monotonic()
            left = len(state.remaining(step.name))
            self.say(f"step {step.name} started: {_batches(left)} of {cp.total_batches} to build")
            if not self._run_step(state, step, executor):
                state.stopped(self.stop.name)
                self.say(
                    f"stopped after {len(cp.ranges_done(step.name))}/{cp.total_batches} batches of step "
                    f"{step.name}; continue with `enrich run --resume`"
                )
                return self.stop.exit_code
            state.step_complete(step.name)
            killpoints.reached("step_completed")
            self.say(
                f"step {step.name} complete in {since(step_started)}: {cp.pairs_done(step.name):,} pairs in "
                f"{_batches(len(cp.ranges_done(step.name)))}"
            )
        if cp.step_request == "all" and not cp.gates_done:
            self.say("running the gates")
            gates_started = time.monotonic()
            report = gates.run_gates(self.config, executor.session, variables=gate_vars, build_views=False)
            gates.print_report(report)
            self.say(f"gates done in {since(gates_started)}")
            if gate_vars:
                self.say("the gates checked the refreshed conditions and the global counts; "
                         "`enrich gates` checks everything")
            killpoints.reached("gates")
            state.gates_done(report.exit_code)
        state.complete()
        self.say(f"run {cp.run_id} complete in {since(self.started)}")
        if cp.step_request != "all":
            return 0
        # after the run is recorded complete: the summary only reads, and a run it failed to
        # print is still a complete run
        self._summarize(executor.client, executor.ddl.database)
        return cp.gates_exit

    def _summarize(self, client: Any, database: str) -> None:
        if summary.missing_marts(client, database):
            return  # a checkpoint from before a mart existed: the next full run builds it
        minimum = getattr(self.args, "min_resolved", None)
        if minimum is None:
            minimum = summary.DEFAULT_MIN_RESOLVED
        found = summary.collect(client, database, minimum)
        for line in summary.lines(found.to_json()):
            self.say(line)

    def _can_refresh(self, decision: Decision, executor: Executor, project: str) -> bool:
        """A --changed run refreshes a scope of conditions when the complete run it follows was
        built by this project from tables that are all still there; otherwise it rebuilds the
        changed batch keys whole."""
        base = decision.checkpoint
        if base is None or base.unfinished or base.project != project or not base.source_marks:
            return False
        if executor.ddl.shards() > 1:
            # the scope table is per shard (ReplicatedMergeTree's default path holds {shard}), so a
            # scope written through one node would refresh that shard only (docs/ARCHITECTURE.md)
            self.say("--changed on a sharded cluster rebuilds the changed batch keys whole")
            return False
        needed = [FLOWS_MODEL, QUARANTINE_MODEL, DIGESTS_RECORDED, *base.tables]
        return len(executor.existing(needed)) == len(set(needed))

    def _refresh(self, state: RunState, executor: Executor, steps: tuple[Step, ...],
                 size_option: int | None, marks: str, project: str) -> int:
        """--changed as a refresh: the conditions whose rows changed, and those they reach, are
        rebuilt in every table (docs/ARCHITECTURE.md)."""
        cp = state.checkpoint
        scope = RefreshScope(executor.ddl)
        # the scope table is shared by every runner of the warehouse
        executor.fence()
        if not cp.scope:
            state.refresh_started()
            scope.clear()
        started = time.monotonic()
        widened = scope.widen()
        if not cp.planned or widened.changed:
            self.say(f"--changed: {widened.changed:,} condition(s) changed since the last build, "
                     f"{widened.conditions:,} in the refresh scope ({time.monotonic() - started:.1f} s)")
            if widened.conditions:
                self.say("refreshing the upstream models for the scope")
                upstream_started = time.monotonic()
                executor.refresh_upstream()
                self.say(f"upstream models refreshed in {since(upstream_started)}")
            plan = scope.plan(size_option or cp.batch_size or MAX_DEFAULT_BATCH_PAIRS)
            state.plan_scope(plan, account(cp.refresh, widened, plan, scope.partitions(), steps))
            state.marks(marks, project)
            killpoints.reached("planned")
            self.say(f"plan: {_batches(cp.total_batches)} of the refresh scope, {cp.total_pairs:,} pairs"
                     + (" - nothing changed" if not cp.plan else ""))
            for line in describe(cp.refresh):
                self.say(line)
        return self._build_steps(state, steps, executor, gate_vars={"refresh_scope": True})

    def _check_step_d_current(self, decision: Decision, current: dict[int, Any]) -> None:
        previous = decision.checkpoint
        built = {int(k): tuple(v) for k, v in previous.signatures.items()} if previous else {}
        if previous is None or "D" not in previous.steps_done or built != current:
            raise UsageError(
                "step E needs step D complete on the current data; run `enrich run --step D` "
                "or `enrich run` (both steps) first"
            )

    def _wait_mutations(self, executor: Executor) -> int:
        return mutations.wait_for_mutations(
            executor.client, [executor.ddl.database], self.policy, self.say, lambda: bool(self.stop),
            source=executor.ddl.system("mutations"),
        )

    def _run_step(self, state: RunState, step: Step, executor: Executor) -> bool:
        """Run the step's remaining batches, then its finalize models; False when stopped."""
        cp = state.checkpoint
        remaining = state.remaining(step.name)
        progress = Progress(
            self.console, step.name, cp.total_batches, cp.total_pairs, cp.pairs_done(step.name)
        )
        for count, batch in enumerate(remaining):
            if self.stop:
                return False
            if count and count % self.policy.every == 0:
                self._wait_mutations(executor)
            lo, hi, pairs = batch
            idx = cp.plan.index(batch)
            started = time.monotonic()
            label = f"step {step.name} batch {idx + 1}"
            self.stop.batch_started(f"{label}/{cp.total_batches}")
            rows = executor.build(step.batched, lo, hi, label, scope=cp.scope)
            seconds = time.monotonic() - started
            self.stop.batch_finished(seconds)
            state.batch_committed(step.name, batch, rows, seconds)
            progress.batch_done(idx, lo, hi, pairs, rows, seconds)
        if self.stop:
            return False
        executor.finalize(step.finalize, f"step {step.name} finalize")
        return True


def _every_table(*stored: Any) -> list[str]:
    return sorted(
        {t for c in stored if c is not None and not isinstance(c, DamagedCheckpoint) for t in c.tables}
    )


def _batches(count: int) -> str:
    return f"{count} batch" if count == 1 else f"{count} batches"


def _keys(keys: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, keys[:12]))
    return shown + (" ..." if len(keys) > 12 else "")


def main(config: Config, args: argparse.Namespace) -> int:
    console = Console(config.home)
    lock = RunLock(config.home)
    try:
        stale = lock.acquire()
    except EnrichError as ex:
        console.note(f"refused: {ex}")
        raise
    stop = StopFlag(console)
    stop.install()
    try:
        if stale:
            console.say(f"took over the lock of runner pid {stale}, which is no longer running")
        console.say(f"enrich run (pid {os.getpid()}, home {config.home})")
        return Runner(config, args, console, stop).run()
    except Exception as ex:
        if stop.cancelled and not isinstance(ex, LockLost):
            # cancelled before the run's checkpoint was open (a killed query fails with the engine's
            # own error): there is nothing in flight to record
            reason = " ".join(str(ex).split())[:300] or type(ex).__name__
            console.say(f"cancelled before the first batch ({reason}); continue with `enrich run --resume`")
            return stop.exit_code
        if isinstance(ex, EnrichError):
            console.note(f"error: {ex}")
        raise
    finally:
        stop.restore()
        lock.release()
