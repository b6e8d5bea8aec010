"""Opening the embedded engine: dbt-free, so `enrich` can open it without importing dbt
(seconds of imports) for commands that do not run dbt; the dbt client wrapper (client.py) uses
the same opener."""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ProgrammingError


class EngineError(RuntimeError):
    """The embedded engine cannot be opened."""


class EngineLockedError(EngineError):
    """The chDB data directory is held by another process."""


class EngineStartError(EngineError):
    """The engine cannot start on its data directory for a reason of its own (a damaged file)."""


def engine_lock_holder(path: str) -> int | None:
    """The pid recorded in chDB's ``<path>/status`` lock file, if a live process holds it."""
    status = Path(path) / "status"
    try:
        text = status.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("PID:"):
            try:
                pid = int(line.split(":", 1)[1])
            except ValueError:
                return None
            return pid if pid != os.getpid() and process_alive(pid) else None
    return None


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Capture what the engine writes to file descriptor 2 while it starts.

    chDB prints the cause of a failed start (``Cannot lock file <path>/status``) to stderr only,
    then raises an unhelpful error; the caller puts the cause in its own one-line message.
    """
    captured: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


def open_chdb_client(path: str, settings: dict | None = None):
    """Open the embedded engine at ``path``, turning chDB's lock failure into a clear error."""
    Path(path).mkdir(parents=True, exist_ok=True)
    failure: ProgrammingError | None = None
    with _stderr_captured() as captured:
        try:
            client = clickhouse_connect.get_client(interface="chdb", path=path, settings=settings or {})
        except ProgrammingError as ex:
            failure = ex
    said = "".join(captured).strip()
    if failure is None:
        # a successful start's own messages are the engine's to show
        if said:
            print(said, file=sys.stderr)
        return client
    holder = engine_lock_holder(path)
    # only a held lock is "in use": any other failed start (a damaged file, a full disk) is
    # reported as the engine's own error
    if holder is not None or "Cannot lock file" in said:
        who = f"process {holder}" if holder is not None else "another process"
        raise EngineLockedError(
            f"The embedded ClickHouse data directory {os.path.realpath(path)} is in use by {who}. "
            "chDB allows one process per data directory: wait for that process to finish, "
            "or point this one at another directory (ENRICH_HOME / --home)."
        ) from failure
    cause = " ".join(str(failure).split())
    if said:
        cause += f" ({said.splitlines()[0]})"
    raise EngineStartError(
        f"The embedded ClickHouse engine cannot start on {os.path.realpath(path)}: {cause}. "
        "A metadata file named there that is empty was cut off by a full disk or a crash: move it "
        "away, then `enrich run --resume` rebuilds what it held."
    ) from failure
