"""`enrich run`: Steps D and E in resumable batches of batch-key ranges, then the gates.

One process, one parsed dbt manifest: the upstream views are built once, then every batch runs
the step's batched models for one contiguous key range (insert_overwrite of those partitions, so
redoing a batch is idempotent). A checkpoint is written only after a batch has committed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from types import FrameType
from typing import Any

import psycopg
import yaml
from clickhouse_connect.driver.client import Client

from enrich import changes, checkpoints, gates, mutations
from enrich.checkpoints import JOB, Checkpoint, CheckpointWriter, DamagedCheckpoint, LedgerRow, PgStore
from enrich.config import Config
from enrich.dbtsession import DbtError, DbtSession
from enrich.errors import EnrichError
from enrich.locks import RunLock
from enrich.plan import Batch, Plan, load_plan, resolve_batch_size
from enrich.progress import Console, Progress
from enrich.warehouse import connect, resolve_target, table


@dataclass(frozen=True)
class Step:
    name: str
    # Rebuilt one key range at a time; each is partitioned by batch_key.
    batched: tuple[str, ...]
    # Rebuilt whole once the last batch of the step has committed.
    finalize: tuple[str, ...] = ()
    # Steps that must have completed on the same plan first.
    prerequisites: tuple[str, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        return (*self.batched, *self.finalize)


STEP_D = Step("D", ("pnl", "pnl_positions"), ())
# Step E reads pnl_positions, so Step D must be complete on the same plan; the runner's wait for
# pending mutations before the first batch covers the other prerequisite.
STEP_E = Step("E", ("wallet_resolution_outcomes",), ("wallet_accuracy",), ("D",))
STEPS: tuple[Step, ...] = (STEP_D, STEP_E)

META_TABLE = "_enrich_meta"
EXIT_UNFINISHED = 2
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopFlag:
    """SIGINT/SIGTERM ask for a clean stop: the batch in flight finishes and is checkpointed."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    def install(self) -> None:
        for signum in EXIT_CODES:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.console.say(f"{signal.Signals(signum).name} received: stopping after the batch in flight")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum or 0, 1)


def select_steps(name: str) -> list[Step]:
    if name == "all":
        return list(STEPS)
    for step in STEPS:
        if step.name == name:
            return [step]
    raise EnrichError(f"step {name} is not available in this version (available: "
                      f"{', '.join(s.name for s in STEPS)})")


def batch_partitions_var(config: Config) -> int:
    """The `batch_partitions` var of dbt_project.yml: the P the models are compiled with."""
    path = config.project_dir / "dbt_project.yml"
    value = (yaml.safe_load(path.read_text()).get("vars") or {}).get("batch_partitions")
    if not isinstance(value, int) or value < 1:
        raise EnrichError(f"{path}: vars.batch_partitions must be a positive integer, got {value!r}")
    return value


def open_store(args: argparse.Namespace, console: Console) -> PgStore | None:
    url = os.environ.get("POSTGRES_URL")
    if not url:
        return None
    store = PgStore(url)
    if args.local_checkpoints_only:
        console.say(f"Postgres checkpoints at {store.where} disabled (--local-checkpoints-only)")
        return None
    try:
        applied = store.migrate()
    except psycopg.Error as ex:
        store.close()
        raise EnrichError(
            f"Postgres at {store.where} is unreachable ({store.error(ex)}); start it, fix POSTGRES_URL, "
            "or run with --local-checkpoints-only to keep checkpoints in the local file only"
        ) from None
    if applied:
        console.say(f"Postgres {store.where}: applied migrations {', '.join(applied)}")
    return store


class Warehouse:
    """The runner's own queries: meta records, table existence, leftovers, row counts."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database

    def existing(self, names: tuple[str, ...]) -> list[str]:
        return [r[0] for r in self.client.query(
            "select name from system.tables where database = {db:String} and name in {names:Array(String)}",
            parameters={"db": self.database, "names": list(names)},
        ).result_rows]

    def read_meta(self) -> dict[str, str]:
        if not self.existing((META_TABLE,)):
            return {}
        return dict(self.client.query(
            f"select key, argMax(value, updated_at) from {table(self.database, META_TABLE)} group by key"
        ).result_rows)

    def write_meta(self, key: str, value: str) -> None:
        name = table(self.database, META_TABLE)
        self.client.command(
            f"create table if not exists {name} (key String, value String, updated_at DateTime64(6, 'UTC'))"
            " engine = ReplacingMergeTree(updated_at) order by key"
        )
        self.client.command(
            f"insert into {name} (key, value, updated_at) select {{key:String}}, {{value:String}}, now64(6)",
            parameters={"key": key, "value": value},
        )

    def drop(self, name: str) -> None:
        self.client.command(f"drop table if exists {table(self.database, name)} sync")

    def drop_leftovers(self, models: tuple[str, ...]) -> list[str]:
        """Staging tables of dbt's insert_overwrite left behind by a killed run."""
        names = [r[0] for r in self.client.query(
            "select name from system.tables where database = {db:String}"
            " and arrayExists(m -> startsWith(name, m || '__dbt_'), {models:Array(String)})",
            parameters={"db": self.database, "models": list(models)},
        ).result_rows]
        for name in names:
            self.drop(name)
        return names

    def rows_in_range(self, models: tuple[str, ...], batch: Batch) -> int:
        return sum(self.client.query(
            f"select count() from {table(self.database, model)}"
            " where batch_key between {lo:UInt32} and {hi:UInt32}",
            parameters={"lo": batch.lo, "hi": batch.hi},
        ).result_rows[0][0] for model in models)


def check_run(result: Any, expected: tuple[str, ...], what: str) -> None:
    """Raise unless dbt succeeded and ran every expected model successfully."""
    statuses = {r.node.name: (str(r.status), r.message) for r in (result.result or [])}
    failed = [f"{name}: {status} ({message})" for name, (status, message) in statuses.items()
              if status != "success"]
    missing = [name for name in expected if name not in statuses]
    if failed or missing or not result.success:
        detail = "; ".join(failed + [f"{name}: not run" for name in missing]) or "see the dbt log"
        raise EnrichError(f"dbt {what} failed: {detail}")


class Runner:
    def __init__(self, config: Config, args: argparse.Namespace, console: Console, stop: StopFlag) -> None:
        self.config = config
        self.args = args
        self.console = console
        self.stop = stop
        self.steps = select_steps(args.step)
        self.policy = mutations.MutationPolicy.from_env()
        self.state_path = checkpoints.state_path(config.home)
        # The newest checkpoint found at the start: `--changed` trusts the recorded signatures only
        # when they belong to it and it is complete.
        self.previous: Checkpoint | None = None

    def run(self) -> int:
        say = self.console.say
        store = open_store(self.args, self.console)
        try:
            start = self._starting_checkpoint(store)
            if isinstance(start, int):
                return start
            target = resolve_target(self.config)
            client = connect(target)
            self.warehouse = Warehouse(client, target.database)
            self.databases = [target.database]
            self.writer = CheckpointWriter(self.state_path, store, say)
            return self._run(start, DbtSession(self.config))
        finally:
            if store is not None:
                store.close()

    def _starting_checkpoint(self, store: PgStore | None) -> Checkpoint | int | None:
        """The checkpoint to resume, None for a new run, or an exit code to stop with now."""
        local: Checkpoint | None = None
        damaged: DamagedCheckpoint | None = None
        try:
            local = checkpoints.read_local(self.state_path)
        except DamagedCheckpoint as ex:
            damaged = ex
        remote = store.load() if store is not None else None
        if self.args.fresh:
            if damaged:
                self.console.say(f"{damaged}; --fresh starts over and replaces it")
            return None
        newest = remote if remote and (local is None or remote.newer_than(local)) else local
        if damaged and remote is None:
            raise EnrichError(f"{damaged}. Nothing to resume from (no Postgres checkpoint). Fix: run "
                              f"`enrich run --fresh` to start over, or delete {self.state_path}")
        if damaged:
            if not self.args.resume:
                raise EnrichError(f"{damaged}. Postgres {store.where} has a checkpoint: run `enrich run "
                                  "--resume` to continue from it, or `enrich run --fresh` to start over")
            self.console.say(f"{damaged}; resuming from the checkpoint in Postgres {store.where}")
            newest = remote
        self.previous = newest
        if self.args.resume:
            if newest is None:
                raise EnrichError(f"nothing to resume: no checkpoint in {self.state_path}"
                                  + (f" or Postgres {store.where}" if store else "")
                                  + "; run `enrich run` without --resume")
            origin = "Postgres" if newest is remote else str(self.state_path)
            self.console.say(f"resuming run {newest.run_id} from {origin}: step {newest.step}, "
                             f"{len(newest.ranges_done)}/{newest.total_batches} batches done")
            return newest
        if newest is not None and newest.unfinished:
            message = (f"an unfinished run {newest.run_id} ({newest.status}, step {newest.step}, "
                       f"{len(newest.ranges_done)}/{newest.total_batches} batches) has a checkpoint; "
                       "run `enrich run --resume` to continue it or `enrich run --fresh` to start over")
            self.console.note(message)
            print(f"enrich: {message}", file=sys.stderr)
            return EXIT_UNFINISHED
        return None

    def _steps_to_run(self, resume: Checkpoint | None) -> list[Step]:
        if resume is None:
            return self.steps
        todo = [s for s in self.steps if s.name not in resume.steps_done]
        names = [s.name for s in todo]
        # a checkpoint may name a step it has just completed (killed before the next one began)
        unfinished = resume.status != "complete" and resume.step not in resume.steps_done
        if unfinished and resume.step not in names:
            raise EnrichError(f"the checkpoint is for step {resume.step}, which --step {self.args.step} "
                              "does not run; resume with --step all or that step")
        return todo

    def _run(self, resume: Checkpoint | None, session: DbtSession) -> int:
        say = self.console.say
        if self.args.changed and self.args.step != "all":
            raise EnrichError("--changed rebuilds both steps: use it with --step all")
        steps = self._steps_to_run(resume)
        if not steps:
            say("the last run is complete: nothing to resume (run without --resume to rebuild)")
            return 0
        partitions = batch_partitions_var(self.config)
        self._check_partitions(partitions, resume)
        if resume and resume.batch_partitions != partitions:
            raise EnrichError(f"the checkpoint was written with batch_partitions={resume.batch_partitions} "
                              f"but dbt_project.yml now has {partitions}; run `enrich run --fresh`")
        models = tuple(m for s in steps for m in s.models)
        left = self.warehouse.drop_leftovers(models)
        if left:
            say(f"dropped {len(left)} staging table(s) left by an interrupted run")
        say("building the upstream views")
        self._build_upstream(session, steps)
        last_mutations = self._wait_mutations()
        plan = load_plan(self.warehouse.client, self.warehouse.database, partitions,
                         resolve_batch_size(self.args.batch_size, resume.batch_size if resume else None))
        batch_size = plan.batch_size
        if resume and resume.plan_fingerprint != plan.fingerprint:
            plan = changes.resumed_plan(self.warehouse.client, self.warehouse.database, plan, batch_size,
                                        resume.plan_fingerprint) or plan
        if resume and resume.plan_fingerprint != plan.fingerprint:
            raise EnrichError("the data or the batch plan changed since the checkpoint was written (plan "
                              f"{resume.plan_fingerprint[:12]} then, {plan.fingerprint[:12]} now); run "
                              "`enrich run --fresh` to start over")
        say(f"plan {plan.fingerprint[:12]}: {len(plan.batches)} batches over {partitions} keys, "
            f"{plan.total_pairs:,} pairs (batch size {batch_size:,})")
        if self.args.changed and resume is None:
            changed, why = changes.plan_changes(self.warehouse.client, self.warehouse.database, plan,
                                                batch_size, self.previous)
            if changed is None:
                say(f"--changed: {why}; rebuilding every partition")
            elif not changed.batches:
                say(f"--changed: no partition {why}; nothing to rebuild")
                return 0
            else:
                changes.describe(changed, say)
                plan = changed
        if resume is None:
            checkpoint = Checkpoint(
                run_id=uuid.uuid4().hex, step=steps[0].name, batch_partitions=partitions,
                plan_fingerprint=plan.fingerprint, total_batches=len(plan.batches),
                total_pairs=plan.total_pairs, batch_size=batch_size,
            )
            if self.args.fresh:
                # Replace the old checkpoint first: killed after the drop, it would send a --resume
                # past batches whose partitions are gone.
                self.writer.commit(checkpoint)
                # P is shared by every step's tables: a new P leaves none of them usable
                recorded = self.warehouse.read_meta().get("batch_partitions")
                stale = models if recorded in (None, str(partitions)) else tuple(
                    m for s in STEPS for m in s.models)
                for model in stale:
                    self.warehouse.drop(model)
                say(f"--fresh: dropped {', '.join(stale)}")
            self.warehouse.write_meta("batch_partitions", str(partitions))
            say(f"run {checkpoint.run_id} started")
        else:
            checkpoint = resume
            checkpoint.status = "running"
        checkpoint.last_mutations = last_mutations
        self.writer.commit(checkpoint)
        for step in steps:
            self._check_prerequisites(step, checkpoint, plan)
            # the step's tables are being rewritten: until it completes, nothing may build on them
            self.warehouse.write_meta(f"step:{step.name}", "")
            if checkpoint.step != step.name:
                checkpoint.step, checkpoint.batch_idx, checkpoint.pairs_done = step.name, -1, 0
                checkpoint.ranges_done = []
                checkpoint.status = "running"
                self.writer.commit(checkpoint)
            if not self._run_step(step, plan, session, checkpoint):
                checkpoint.status = "stopped"
                self.writer.commit(checkpoint)
                self.writer.sync(checkpoint, force=True)
                say(f"stopped after {len(checkpoint.ranges_done)}/{checkpoint.total_batches} batches of step "
                    f"{step.name}; continue with `enrich run --resume`")
                return self.stop.exit_code
            checkpoint.steps_done.append(step.name)
            self.warehouse.write_meta(f"step:{step.name}", plan.input_fingerprint)
            checkpoint.status = "complete" if step is steps[-1] else "running"
            self.writer.commit(checkpoint)
            say(f"step {step.name} complete: {checkpoint.pairs_done:,} pairs "
                f"in {checkpoint.total_batches} batches")
        self.writer.sync(checkpoint, force=True)
        if self.args.step == "all":
            # the baseline of the next `--changed` run: what every partition was just built from
            changes.record_signatures(self.warehouse.client, self.warehouse.database, checkpoint.run_id)
            return self._gates(session)
        return 0

    def _check_partitions(self, partitions: int, resume: Checkpoint | None) -> None:
        """P is fixed when the partitioned tables are created; a changed var needs a rebuild."""
        if self.args.fresh:
            return
        recorded = self.warehouse.read_meta().get("batch_partitions")
        batched = tuple(m for s in STEPS for m in s.batched)
        present = self.warehouse.existing(batched)
        if recorded is not None and int(recorded) != partitions and present:
            raise EnrichError(
                f"tables {', '.join(present)} were built with batch_partitions={recorded} but "
                f"dbt_project.yml now has {partitions}; run `enrich run --fresh` to rebuild them"
            )

    def _check_prerequisites(self, step: Step, checkpoint: Checkpoint, plan: Plan) -> None:
        meta = self.warehouse.read_meta()
        for name in step.prerequisites:
            if name not in checkpoint.steps_done and meta.get(f"step:{name}") != plan.input_fingerprint:
                raise EnrichError(f"step {step.name} needs step {name} complete on the current data; "
                                  f"run `enrich run --step {name}` or `--step all` first")

    def _build_upstream(self, session: DbtSession, steps: list[Step]) -> None:
        models = tuple(m for s in STEPS for m in s.models)
        nodes = {n.name for n in session.manifest.nodes.values() if n.resource_type == "model"}
        absent = [m for s in steps for m in s.models if m not in nodes]
        if absent:
            raise EnrichError(f"the dbt project has no model {', '.join(absent)}")
        selected = [f"+{m}" for s in steps for m in s.models]
        result = session.invoke("run", "--select", *selected, "--exclude", *models)
        check_run(result, (), "run of the upstream views")

    def _wait_mutations(self) -> int:
        return mutations.wait_for_mutations(
            self.warehouse.client, self.databases, self.policy, self.console.say, lambda: bool(self.stop))

    def _run_step(self, step: Step, plan: Plan, session: DbtSession, checkpoint: Checkpoint) -> bool:
        """Run the step's remaining batches, then its finalize models; False when stopped."""
        done = len(checkpoint.ranges_done)
        if [list(r) for r in checkpoint.ranges_done] != [[b.lo, b.hi] for b in plan.batches[:done]]:
            raise EnrichError(f"the checkpoint's ranges_done do not match the plan's first {done} batches; "
                              "run `enrich run --fresh` to start over")
        progress = Progress(self.console, step.name, len(plan.batches), plan.total_pairs,
                            checkpoint.pairs_done)
        for count, batch in enumerate(plan.batches[done:]):
            if self.stop:
                return False
            if count and count % self.policy.every == 0:
                checkpoint.last_mutations = self._wait_mutations()
            started = time.monotonic()
            self._dbt_run(session, step.batched, f"step {step.name} batch {batch.idx + 1}",
                          {"batch_lo": batch.lo, "batch_hi": batch.hi, "flows_built_this_run": True})
            rows = self.warehouse.rows_in_range(step.batched, batch)
            seconds = time.monotonic() - started
            checkpoint.batch_idx = batch.idx
            checkpoint.ranges_done.append([batch.lo, batch.hi])
            checkpoint.pairs_done += batch.pairs
            self.writer.commit(checkpoint, LedgerRow(
                run_id=checkpoint.run_id, step=step.name, batch_idx=batch.idx, key_lo=batch.lo,
                key_hi=batch.hi, pairs=batch.pairs, rows_written=rows, seconds=round(seconds, 3),
                status="committed", finished_at=checkpoints.now_iso(),
            ))
            progress.batch_done(batch.idx, batch.lo, batch.hi, batch.pairs, rows, seconds)
        if self.stop:
            return False
        if step.finalize:
            self._dbt_run(session, step.finalize, f"step {step.name} finalize", None)
        return True

    @staticmethod
    def _dbt_run(session: DbtSession, models: tuple[str, ...], what: str,
                 variables: dict[str, int] | None) -> None:
        try:
            result = session.invoke("run", "--select", *models, variables=variables)
        except DbtError as ex:
            raise EnrichError(f"{what}: {ex}") from None
        check_run(result, models, what)

    def _gates(self, session: DbtSession) -> int:
        # the run built every view the gates read, on this session's manifest: no rebuild, no re-parse
        report = gates.run_gates(self.config, session, build_views=False)
        gates.print_report(report)
        return report.exit_code


def main(config: Config, args: argparse.Namespace) -> int:
    console = Console(config.home, JOB)
    lock = RunLock(config.home, JOB)
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
        console.say(f"enrich run --step {args.step} (pid {os.getpid()}, home {config.home})")
        return Runner(config, args, console, stop).run()
    except DbtError as ex:
        console.note(f"error: {ex}")
        raise EnrichError(str(ex)) from None
    except EnrichError as ex:
        console.note(f"error: {ex}")
        raise
    finally:
        stop.restore()
        lock.release()
