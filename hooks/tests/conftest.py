"""Shared fixtures: a real Postgres database per test session and `enrich` run as a process.

chDB allows one data directory per process, so tests that need their own warehouse run the
`enrich` command in a subprocess with their own `--home`; that is also how operators run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PROJECT_DIR = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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


def run_enrich(
    home: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `enrich --home HOME ARGS...` to completion and return its output."""
    proc = subprocess.run(
        [sys.executable, "-m", "enrich", "--home", str(home), *args],
        cwd=PROJECT_DIR, env=env if env is not None else enrich_env(),
        capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"enrich {' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def query(home: Path, sql_text: str, parameters: dict | None = None) -> list[tuple]:
    """Run one query against HOME's embedded warehouse from a short-lived subprocess."""
    code = (
        "import json, sys\n"
        "from enrich.config import Config\n"
        "from enrich.warehouse import connect, resolve_target\n"
        "client = connect(resolve_target(Config.from_env(home=sys.argv[1])))\n"
        "rows = client.query(sys.argv[2], parameters=json.loads(sys.argv[3])).result_rows\n"
        "print(json.dumps([list(r) for r in rows], default=str))\n"
    )
    import json

    proc = subprocess.run(
        [sys.executable, "-c", code, str(home), sql_text, json.dumps(parameters or {})],
        cwd=PROJECT_DIR, env=enrich_env(), capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(f"query failed: {sql_text}\n{proc.stderr}")
    return [tuple(r) for r in json.loads(proc.stdout)]


def state_file(home: Path) -> Path:
    """The state file of HOME's embedded warehouse (checkpoints are kept per warehouse)."""
    from enrich.checkpoints import state_path

    return state_path(home, f"chdb:{os.path.realpath(home / 'chdb')}/polymarket")
