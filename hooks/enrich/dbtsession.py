"""In-process dbt invocations that share one parsed manifest.

A changed `--vars` makes dbt re-parse the project (about a second on these machines); the
runner changes vars on every batch, so the manifest is parsed once and handed to each
invocation instead. Two more fixed costs of an invocation are removed here (`make bench`
profiles): dbt writing the whole manifest.json again after every command, and dbt-common
walking the interpreter's stack with source lookups for every behavior flag of every adapter
it creates.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enrich import killpoints
from enrich.config import Config
from enrich.errors import Cancelled, EnrichError
from enrich.profile import render_target
from enrich.project import project_digest

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

# dbt is imported when a session is made, not with this module: commands that do not run dbt
# (status, export, a refresh with nothing to do) start without its seconds of imports

# Statements that only read; every other statement dbt sends writes (creates, inserts, replaces a
# partition, exchanges, renames, deletes, drops) and is fenced.
_READS = re.compile(r"^(select|with|show|describe|desc|exists|explain)\b", re.I)


# The parses this process made, by what a parse depends on (_parse_key): a process that runs several
# commands (the test suite runs them in-process, so can an application embedding `enrich`) parses
# the project once per target instead of once per command and home. dbt's own saved parse
# (partial_parse.msgpack) cannot be shared between homes: its check covers the profile's values,
# and the embedded target's `path` is the home.
_PARSES: dict[tuple[str, ...], Any] = {}


class DbtError(EnrichError):
    """A dbt invocation failed; the message names the command and dbt's own error."""


class DbtSession:
    def __init__(self, config: Config, quiet: bool = True) -> None:
        self._config = config
        self._quiet = quiet
        self._manifest: Any = None
        # Set by the runner on a warehouse with a lock: raises (LockLost) when the lock is no
        # longer this runner's; called before every statement of dbt's that writes.
        self.fence: Callable[[], None] | None = None
        # Set by the runner: true once a second SIGINT/SIGTERM cancelled the work in flight; no
        # statement of dbt's is sent after that (enrich.stopping kills those already running).
        self.cancelled: Callable[[], bool] | None = None
        # Set by the runner: told (model, dbt's status, seconds) as each model finishes, so a long
        # phase (the upstream build at 100x takes minutes) shows where it is.
        self.on_model: Callable[[str, str, float], None] | None = None
        from dbt_common import behavior_flags

        behavior_flags.BehaviorFlagRendered._default_source = staticmethod(_calling_module)  # type: ignore[method-assign]

    @property
    def target_path(self) -> Path:
        # Artifacts live with the runtime data, so two homes never share a target/ folder.
        return self._config.home / "dbt" / "target"

    def _base_args(self) -> list[str]:
        args = [
            "--project-dir", str(self._config.project_dir),
            "--profiles-dir", str(self._config.profiles_dir),
            "--target-path", str(self.target_path),
        ]
        if self._config.target:
            args += ["--target", self._config.target]
        return args

    def _global_args(self) -> list[str]:
        flags = ["--log-path", str(self._config.home / "dbt" / "logs")]
        return [*flags, "--quiet"] if self._quiet else flags

    @property
    def manifest(self) -> Any:
        if self._manifest is None:
            # the project's files are read once: the key and the saved-parse check both need them
            digest = project_digest(self._config.project_dir)
            key = self._parse_key(digest)
            parsed = _PARSES.get(key)
            if parsed is None or not _same_env_vars(parsed):
                self._forget_stale_partial_parse(digest)
                from dbt.cli.main import dbtRunner

                result = dbtRunner().invoke([*self._global_args(), "parse", *self._base_args()])
                self._raise_on_failure(result, "parse")
                parsed = _PARSES[key] = result.result
            self._manifest = parsed
        return self._manifest

    def _parse_key(self, digest: str) -> tuple[str, ...]:
        """What a parse depends on besides the environment variables the project reads (checked on
        reuse): the project's files (DIGEST), the target, and the target's settings but the home's path
        (no model reads `target.path`) and the password."""
        name, credentials = render_target(self._config.profiles_dir, self._config.target)
        settings = replace(credentials, path="", password="")
        return (str(self._config.project_dir), digest, name, repr(settings),
                repr(sorted(settings.other.items())))

    def _forget_stale_partial_parse(self, digest: str) -> None:
        """Parse from scratch once after the project's files change.

        dbt 1.11's partial parsing keeps a singular test's yml `meta` from before its SQL file
        changed: after an upgrade of the project the gates printed their dbt names and lost their
        expected values. The saved parse is reused only while the project's files are the ones
        it was made from.
        """
        marker = self.target_path / "enrich-project.sha256"
        if marker.exists() and marker.read_text() == digest:
            return
        (self.target_path / "partial_parse.msgpack").unlink(missing_ok=True)
        self.target_path.mkdir(parents=True, exist_ok=True)
        marker.write_text(digest)

    def invoke(self, command: str, *args: str, variables: dict[str, Any] | None = None,
               what: str | None = None) -> dbtRunnerResult:
        """Run one dbt command on the shared manifest; raise DbtError when dbt itself fails."""
        argv = [*self._global_args(), command, *args, *self._base_args(), "--no-write-json"]
        if variables:
            argv += ["--vars", json.dumps(variables)]
        from dbt.cli.main import dbtRunner

        callbacks = killpoints.dbt_callbacks()
        tripped: list[EnrichError] = []
        if self.cancelled is not None:
            callbacks.append(_cancel_callback(self.cancelled))
        if self.fence is not None:
            callbacks.append(_fence_callback(self.fence, tripped))
        if self.on_model is not None:
            callbacks.append(_model_callback(self.on_model))
        result = dbtRunner(manifest=self.manifest, callbacks=callbacks).invoke(argv)
        if self.cancelled is not None and self.cancelled():
            # whatever dbt made of its killed and refused statements, the cause is the cancel
            raise Cancelled(f"{what or 'dbt ' + command} was cancelled")
        if tripped:
            # the statement never ran; dbt reports the node as failed with our message inside
            raise tripped[0]
        if self.fence is not None and (result.exception is not None or not result.success):
            # a statement in flight while the process was paused fails in its own way (a request
            # cut off by the server, a table the new holder dropped): when the lock is gone, that
            # is the cause to report
            self.fence()
        if result.exception is not None:
            raise DbtError(f"{what or 'dbt ' + command} failed: {_one_line(result.exception)}") from None
        self._write_run_results(result)
        return result

    def _write_run_results(self, result: dbtRunnerResult) -> None:
        """run_results.json of the invocation, as dbt writes it (for `dbt retry` and the runs
        kept under <home>/dbt/runs/), without dbt's copy of the unchanged manifest next to it."""
        write = getattr(result.result, "write", None)
        if write is not None:
            self.target_path.mkdir(parents=True, exist_ok=True)
            write(str(self.target_path / "run_results.json"))

    def run_operation(self, macro: str, macro_args: dict[str, Any] | None = None) -> None:
        args = [macro]
        if macro_args:
            args += ["--args", json.dumps(macro_args)]
        result = self.invoke("run-operation", *args)
        self._raise_on_failure(result, f"run-operation {macro}")

    @staticmethod
    def _raise_on_failure(result: dbtRunnerResult, what: str) -> None:
        if result.exception is not None:
            raise DbtError(f"dbt {what} failed: {_one_line(result.exception)}") from None
        if not result.success:
            raise DbtError(f"dbt {what} failed; see the dbt log under the home's dbt/logs")


def _same_env_vars(manifest: Any) -> bool:
    """Whether the environment variables the project read while parsing still hold their values."""
    return all(os.environ.get(name) == value for name, value in manifest.env_vars.items())


def _fence_callback(fence: Callable[[], None], tripped: list[EnrichError]) -> Callable[[Any], None]:
    """A dbt event callback that runs FENCE before each writing statement.

    dbt-clickhouse logs a statement ("On <connection>: <sql>") right before sending it, inside
    its exception handler: an exception raised here fails the node before the statement is sent,
    and every later write of the invocation fails the same way.
    """

    def on_event(msg: Any) -> None:
        sql = killpoints.statement_sql(msg)
        if sql is None or _READS.match(sql):
            return
        if tripped:
            raise tripped[0]
        try:
            fence()
        except EnrichError as ex:
            tripped.append(ex)
            raise

    return on_event


def _cancel_callback(cancelled: Callable[[], bool]) -> Callable[[Any], None]:
    """A dbt event callback that refuses every statement once the run is cancelled: raised as
    dbt-clickhouse announces a statement, it fails the node before the statement is sent (as the
    fence does), so a batch's later statements (its partition replaces) never start."""

    def on_event(msg: Any) -> None:
        if cancelled() and killpoints.statement_sql(msg) is not None:
            raise Cancelled("cancelled by a second SIGINT/SIGTERM")

    return on_event


def _model_callback(on_model: Callable[[str, str, float], None]) -> Callable[[Any], None]:
    """A dbt event callback passing each finished model's name, status and time to ON_MODEL."""

    def on_event(msg: Any) -> None:
        if msg.info.name == "LogModelResult":
            data = msg.data
            on_model(data.node_info.node_name, str(data.status), float(data.execution_time))

    return on_event


def _calling_module() -> str:
    """dbt-common's default `source` of a behavior flag, the first module on the stack other than
    its own, found from the frames' globals: `inspect.stack()` reads the source lines of every
    frame, about 70 ms per flag on a dbt invocation's deep stack."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name not in ("dbt_common.behavior_flags", __name__):
            return str(name)
        frame = frame.f_back
    return "Unknown"


def _one_line(ex: BaseException) -> str:
    """dbt's exception as one line: engine lock and connection errors keep their own message."""
    lines = [line.strip() for line in str(ex).splitlines() if line.strip()]
    return " ".join(lines)[:2000] or type(ex).__name__
