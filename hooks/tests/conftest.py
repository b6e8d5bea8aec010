"""Shared fixtures: a real Postgres database per test session, and `enrich` and queries run against
a home's warehouse.

chDB allows one data directory per process at a time, and one process per data directory. The
`enrich` command and the queries run in the test process (a Python start and dbt's imports cost
more than most commands on the tiny data). The engine of the home a test queries stays open until
the test ends, another home is opened, a home is copied or a child process starts (_HeldEngine):
starting it costs more than most queries. A command that must die on purpose
(ENRICH_TEST_KILL_AT) runs as a subprocess, as do the tests about process boundaries.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

# the `seeded` fixture of the reliability tests, shared by two files
pytest_plugins = ["reliability"]

PROJECT_DIR = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


# The test files, longest first (pytest --durations). `make test` gives each of three workers a file
# at a time (--dist loadfile, in this order: --no-loadscope-reorder), the next one as a worker runs
# out: a long file started last would leave the other worker idle. Files not named here come after.
LONGEST_FIRST = (
    "test_reliability.py", "test_kill_loop.py", "test_server.py", "test_runner.py", "test_refresh.py",
    "test_fencing.py", "test_shards.py", "test_models_d.py", "test_gates.py", "test_loader.py",
    "test_exact_numbers.py", "test_ops.py", "test_cluster.py", "test_warehouse_lock.py",
    "test_outcomes.py", "test_adapter.py", "test_cli.py", "test_seed.py", "test_lens.py", "test_report.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # a stable sort: the tests of a file keep their order
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@contextmanager
def throwaway_database(prefix: str = "enrich_test") -> Iterator[str]:
    """A Postgres database of its own, dropped on exit; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway Postgres database shared by the session."""
    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="session")
def tiny_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home after `enrich seed --scale tiny`, seeded once per test process: `seeded_copy` gives a
    test a home of its own in the same state without seeding again."""
    home = tmp_path_factory.mktemp("tiny-seed") / "home"
    run_enrich(home, "seed", "--scale", "tiny")
    return home


def seeded_copy(template: Path, home: Path) -> Path:
    """HOME as a copy of the seeded TEMPLATE, whose engine is closed. The engine's table links are
    relative (data/ and metadata/ into store/), so the copy is a warehouse of its own; the
    template has no checkpoint, so no state names the template's path."""
    release_engine()  # a running engine may be merging parts while they are copied
    shutil.copytree(template, home, symlinks=True, dirs_exist_ok=True)
    return home


@pytest.fixture
def own_pg() -> Iterator[str]:
    """A Postgres database of one test alone: checkpoint rows are per job, so tests must not share."""
    with throwaway_database() as url:
        yield url


def enrich_env(**extra: str) -> dict[str, str]:
    """The environment for an `enrich` subprocess: no inherited warehouse or checkpoint settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENRICH_", "CLICKHOUSE_", "POSTGRES_"))}
    env.pop("BATCH_SIZE", None)
    env.update(extra)
    return env


# Variables under which `enrich` must run in a process of its own: a kill point SIGKILLs its process,
# a pause point SIGSTOPs it, a stalled batch is there to be signalled.
_PROCESS_ONLY = ("ENRICH_TEST_KILL_AT", "ENRICH_TEST_PAUSE_AT", "ENRICH_TEST_STALL_AT")


def run_enrich(
    home: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `enrich --home HOME ARGS...` to completion and return its output.

    In this process unless ENV asks for a kill point; the timeout applies to a subprocess only.
    """
    argv = ["--home", str(home), *args]
    env = env if env is not None else enrich_env()
    if any(env.get(name) for name in _PROCESS_ONLY):
        proc = subprocess.run(
            [sys.executable, "-m", "enrich", *argv],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout,
        )
    else:
        HELD.release_unless(home)
        proc = _run_in_process(argv, env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"enrich {' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def freshness(home: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, tuple[str, str]]]:
    """`enrich dbt source freshness`: its exit code and, per source table, (status, max_loaded_at)."""
    target = home / "dbt" / "freshness-target"
    proc = run_enrich(home, "dbt", "source", "freshness", "--target-path", str(target), "--log-path",
                      str(home / "dbt" / "logs"), env=env, check=False)
    results = json.loads((target / "sources.json").read_text())["results"]
    return proc.returncode, {r["unique_id"].rsplit(".", 1)[1]: (r["status"], r["max_loaded_at"])
                             for r in results}


def _run_in_process(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`enrich.cli.main(argv)` as a subprocess would run it: ENV as the whole environment, the project
    as the working directory, its output captured (what Python prints and what the engine writes to
    the file descriptors), the environment, directory and engine given back afterwards."""
    from enrich.cli import main

    _forget_adapter_caches()
    saved_env, saved_cwd, saved_argv, saved_stdin = dict(os.environ), os.getcwd(), sys.argv, sys.stdin
    out, err = io.StringIO(), io.StringIO()
    with _fd_captured(1) as fd_out, _fd_captured(2) as fd_err:
        try:
            os.environ.clear()
            os.environ.update(env)
            os.chdir(PROJECT_DIR)
            sys.argv = ["enrich", *argv]
            sys.stdin = io.StringIO()  # no terminal, nothing to read, as under subprocess.run
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as ex:  # argparse: usage errors, --version
                    code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 2)
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            os.chdir(saved_cwd)
            sys.argv, sys.stdin = saved_argv, saved_stdin
            _close_log_files()
            # a client dropped without close() keeps the engine open until it is collected (a full
            # collection costs a tenth of a second, so only then)
            if HELD.client is None and _engine_open_here():
                gc.collect()
    return subprocess.CompletedProcess(["enrich", *argv], code, out.getvalue() + "".join(fd_out),
                                       err.getvalue() + "".join(fd_err))


def _engine_open_here() -> bool:
    """Whether this process holds an embedded engine: it keeps `<path>/status` open while it runs."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("/chdb/status"):
            return True
    return False


def _forget_adapter_caches() -> None:
    """dbt-clickhouse remembers per process which databases exist, whether EXCHANGE works and a server
    setting; a command must start knowing none of it, as in a new process (another test's server, a
    database dropped since)."""
    from dbt.adapters.clickhouse import dbclient

    with dbclient._database_lock:
        dbclient._ensured_databases.clear()
    dbclient._exchange_result = None
    dbclient._nd_mutation_probe = None


def _close_log_files() -> None:
    """Close the log files the command opened (dbt's `<home>/dbt/logs/dbt.log`), as its exit would:
    an open file holds the home's file system (a test unmounts one)."""
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in list(getattr(logger, "handlers", ())):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                logger.removeHandler(handler)


@contextmanager
def _fd_captured(fd: int) -> Iterator[list[str]]:
    """What is written to file descriptor FD (by the engine's C++ side) while inside; the text is
    in the yielded list on exit."""
    captured: list[str] = []
    (sys.stdout if fd == 1 else sys.stderr).flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield captured
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


class _HeldEngine:
    """The embedded engine of one home, kept open in this process between the test's queries and
    in-process commands on that home: starting the engine (its metadata, its system tables) costs
    more than most of the queries a test sends, and a command run in this process on the same home
    joins the running engine instead of starting it again. chDB runs one data path per process and
    lets one process have it, so the engine is given back before another home is opened here,
    before an `enrich` subprocess starts, and after each test."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.client = None

    def client_for(self, home: Path):
        path = _engine_path(home)
        if self.path != path:
            self.release()
            from dbt.adapters.chdb.engine import open_chdb_client

            self.client = open_chdb_client(path)
            self.path = path
        return self.client

    def release_unless(self, home: Path) -> None:
        """Give the engine back unless it is HOME's."""
        if self.path != _engine_path(home):
            self.release()

    def release(self) -> None:
        if self.client is not None:
            client, self.client, self.path = self.client, None, None
            client.close()
            # a command's client dropped without close() kept the engine open until collected
            if _engine_open_here():
                gc.collect()


def _engine_path(home: Path) -> str:
    return str(Path(home).resolve() / "chdb")


HELD = _HeldEngine()


class _PopenGivingEngineBack(subprocess.Popen):
    """A child process may open the home this process holds (an `enrich` subprocess, bench/torture's
    helpers, a test's own script): the engine is given back before any child starts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        HELD.release()
        super().__init__(*args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _children_get_the_engine() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "Popen", _PopenGivingEngineBack)
        yield


@pytest.fixture(autouse=True)
def _engine_given_back() -> Iterator[None]:
    """Each test starts and ends with no engine open in this process (a later test may hand the
    home to a subprocess, or remove it)."""
    HELD.release()
    yield
    HELD.release()


@contextmanager
def embedded(home: Path) -> Iterator:
    """A clickhouse-connect client on HOME's embedded warehouse, in this process, kept open after the
    block for the next query or in-process command on HOME (_HeldEngine)."""
    yield HELD.client_for(home)


def release_engine() -> None:
    """Give this process's embedded engine back: before a home's files are copied (a running engine
    may be merging parts), and before a command in this process opens another home."""
    HELD.release()


def plain(rows: Sequence[Sequence]) -> list[list]:
    """Rows as JSON values, every other value (Decimal, datetime) as its str: the form the tests
    compare, as the query subprocesses printed them."""
    return json.loads(json.dumps([list(r) for r in rows], default=str))


def query(home: Path, sql_text: str, parameters: dict | None = None) -> list[tuple]:
    """Run one query against HOME's embedded warehouse; rows as `plain` gives them."""
    with embedded(home) as client:
        rows = client.query(sql_text, parameters=parameters or {}).result_rows
    return [tuple(r) for r in plain(rows)]


def state_file(home: Path) -> Path:
    """The state file of HOME's embedded warehouse (checkpoints are kept per warehouse)."""
    from enrich.checkpoints import state_path

    return state_path(home, f"chdb:{os.path.realpath(home / 'chdb')}/polymarket")
