"""Building key ranges: the one way `enrich run`, `reset --market` and anything else that rebuilds
batch-key partitions runs dbt.

One parsed manifest serves every invocation (a changed `--vars` would make dbt re-parse). Each
invocation's dbt results are kept under `<home>/dbt/runs/<run id>/`, one file per invocation, so
the results of a failed batch can be read after the run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from enrich import killpoints
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.errors import EnrichError
from enrich.project import BATCH_KEY, KEY_FIGURES_MODEL, QUARANTINE_MODEL, Step, result_tables
from enrich.scope import DIGESTS_RECORDED, SCOPE_TABLE, SCOPED_UPSTREAM
from enrich.warehouse import quote_identifier, table


def check_run(result: Any, expected: Sequence[str], what: str) -> None:
    """Raise unless dbt succeeded and ran every expected model successfully."""
    # dbt's messages span lines (a contract table, a macro stack): one line for the operator
    statuses = {r.node.name: (str(r.status), " ".join(str(r.message).split())[:600])
                for r in (result.result or [])}
    failed = [f"{name}: {status} ({message})" for name, (status, message) in statuses.items()
              if status != "success"]
    missing = [name for name in expected if name not in statuses]
    if failed or missing or not result.success:
        detail = "; ".join(failed + [f"{name}: not run" for name in missing]) or "see the dbt log"
        raise EnrichError(f"dbt {what} failed: {detail}")


class Executor:
    def __init__(self, session: DbtSession, ddl: Ddl, artifacts: Path) -> None:
        self.session = session
        self.ddl = ddl
        self.artifacts = artifacts
        self._invocations = 0
        # raises when this runner lost the warehouse lock (enrich.locks); a no-op without a lock
        self.fence: Callable[[], None] = _unfenced

    @property
    def client(self) -> Client:
        return self.ddl.client

    def _run(self, select: Sequence[str], expected: Sequence[str], label: str,
             variables: dict[str, Any] | None = None, exclude: Sequence[str] = ()) -> None:
        args = ["--select", *select] + (["--exclude", *exclude] if exclude else [])
        result = self.session.invoke("run", *args, variables=variables, what=label)
        self._keep_artifacts(label)
        check_run(result, expected, label)

    def _keep_artifacts(self, label: str) -> None:
        produced = self.session.target_path / "run_results.json"
        if not produced.exists():
            return
        self._invocations += 1
        self.artifacts.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "-" for c in label)
        shutil.copyfile(produced, self.artifacts / f"{self._invocations:04d}-{name}.json")

    def upstream(self, steps: Sequence[Step]) -> None:
        """Everything the steps' models read (views, the flows table), the batch keys' figures and
        the quarantine."""
        models = result_tables(tuple(steps))
        self._run([*(f"+{m}" for m in models), f"+{KEY_FIGURES_MODEL}", f"+{QUARANTINE_MODEL}",
                   f"+{DIGESTS_RECORDED}"], (),
                  "build of the upstream models",
                  exclude=models)
        killpoints.reached("upstream")

    def build(self, models: Sequence[str], lo: int, hi: int, label: str, scope: bool = False) -> int:
        """Rebuild keys LO..HI of the batched MODELS, or with SCOPE the refresh scope's batch LO;
        returns the rows they now hold there."""
        # flows_built_this_run: the caller rebuilt the flows table, the models need not re-check it
        if scope:
            variables: dict[str, Any] = {"refresh_batch": lo, "flows_built_this_run": True}
            where = (f"condition_id in (select condition_id from {table(self.ddl.database, SCOPE_TABLE)}"
                     " where batch = {lo:UInt32})")
        else:
            variables = {"batch_lo": lo, "batch_hi": hi, "flows_built_this_run": True}
            where = f"{quote_identifier(BATCH_KEY)} between {{lo:UInt32}} and {{hi:UInt32}}"
        stall = killpoints.stall_seconds("batch")
        if stall:
            variables["test_stall_seconds"] = stall
        self._run(models, models, label, variables)
        return sum(int(self.client.query(
            f"select count() from {table(self.ddl.database, model)} where {where}",
            parameters={"lo": lo, "hi": hi}).result_rows[0][0]) for model in models)

    def refresh_upstream(self) -> None:
        """The refresh scope's rows of the upstream tables, through the scoped views."""
        self._run([*SCOPED_UPSTREAM], (), "refresh of the upstream models", {"refresh_scope": True})
        killpoints.reached("upstream")

    def finalize(self, models: Sequence[str], label: str) -> None:
        if models:
            self._run(models, models, label)
            killpoints.reached("finalized")

    def existing(self, names: Sequence[str]) -> list[str]:
        return [r[0] for r in self.client.query(
            "select name from system.tables where database = {db:String} and name in {names:Array(String)}",
            parameters={"db": self.ddl.database, "names": list(names)},
        ).result_rows]

    def tables_beyond(self, models: Sequence[str], partitions: int) -> list[str]:
        """The batched MODELS holding a partition >= PARTITIONS: built with a larger batch_partitions."""
        return [r[0] for r in self.client.query(
            f"select distinct table from {self.ddl.system('parts')} where active and database = {{db:String}}"
            " and table in {names:Array(String)} and toUInt64OrZero(partition_id) >= {p:UInt64}"
            " order by table",
            parameters={"db": self.ddl.database, "names": list(models), "p": partitions},
        ).result_rows]

    def drop_leftovers(self, models: Sequence[str]) -> list[str]:
        """Staging tables of dbt's materializations left behind by a killed run."""
        names = [r[0] for r in self.client.query(
            "select name from system.tables where database = {db:String}"
            " and arrayExists(m -> startsWith(name, m || '__dbt_'), {models:Array(String)})",
            parameters={"db": self.ddl.database, "models": list(models)},
        ).result_rows]
        for name in names:
            self.fence()
            self.ddl.drop_table(name)
        return names

    def drop(self, names: Sequence[str]) -> None:
        for name in names:
            self.fence()
            self.ddl.drop_table(name)


def _unfenced() -> None:
    """The fence of a warehouse without a lock of ours (the embedded engine locks itself)."""
