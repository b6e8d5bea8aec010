"""The warehouse, not the home, is what a run locks and checkpoints (issue 10, part 4): two homes
pointed at one server warehouse, with and without Postgres, and status per warehouse."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, enrich_env, run_enrich, seeded_copy
from server_fixtures import ChdbServer, chdb_server

from enrich.errors import ExitCode

pytestmark = pytest.mark.server

# Holds the warehouse lock the way a runner does, from a home of its own, until killed.
HOLD = """
import os, sys, time
from enrich.checkpoints import PgStore
from enrich.config import Config
from enrich.ddl import Ddl
from enrich.locks import ClickHouseLockBackend, PgLockBackend, WarehouseLock
from enrich.warehouse import connect, identity, resolve_target
target = resolve_target(Config.from_env(home=sys.argv[1], target="server"))
warehouse = identity(target)
if os.environ.get("POSTGRES_URL"):
    store = PgStore(os.environ["POSTGRES_URL"])
    store.migrate()
    backend = PgLockBackend(store, warehouse)
else:
    backend = ClickHouseLockBackend(Ddl.for_target(connect(target), target),
                                    Ddl.for_target(connect(target), target), warehouse)
WarehouseLock(backend, warehouse).acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbServer]:
    root = tmp_path_factory.mktemp("lockserver")
    with chdb_server(root) as running:
        run_enrich(root / "seeder", "--target", "server", "seed", "--scale", "tiny",
                   env=enrich_env(**running.env()))
        yield running


def hold(home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], cwd=PROJECT_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held", proc.stderr.read()
    return proc


@pytest.mark.parametrize("with_postgres", [False, True], ids=["lock in the warehouse", "lock in Postgres"])
def test_a_second_home_on_the_same_warehouse_is_refused_and_a_dead_holder_taken_over(
        server: ChdbServer, tmp_path: Path, own_pg: str, with_postgres: bool) -> None:
    env = enrich_env(**server.env(), **({"POSTGRES_URL": own_pg} if with_postgres else {}))
    holder = hold(tmp_path / "first-home", env)
    try:
        refused = run_enrich(tmp_path / "second-home", "run", "--target", "server", env=env, check=False)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == ExitCode.ERROR and len(lines) == 1, refused.stderr
    assert "another enrich run holds the warehouse clickhouse://127.0.0.1:" in lines[0]
    assert f"pid {holder.pid} on host" in lines[0]
    # the holder died without releasing: on the same host its lock is taken over at once
    taken = run_enrich(tmp_path / "second-home", "run", "--target", "server", env=env)
    assert f"took over the warehouse lock of pid {holder.pid}" in taken.stdout
    # the six validation gates and the five marts' grain gates (issue 23)
    assert "11 passed" in taken.stdout


def test_status_never_shows_another_warehouses_checkpoint(server: ChdbServer, tmp_path: Path,
                                                          own_pg: str, tiny_seed: Path) -> None:
    home = seeded_copy(tiny_seed, tmp_path / "home")
    env = enrich_env(**server.env(), POSTGRES_URL=own_pg)
    # an embedded run in this home, checkpointed locally and in Postgres (Step D alone: a complete
    # run's checkpoint all the same, without Step E and the gates, which status does not look at)
    run_enrich(home, "run", "--step", "D", env=env)
    local = json.loads(run_enrich(home, "status", "--json", env=env).stdout)
    assert local["checkpoint"]["status"] == "complete" and local["warehouse"].startswith("chdb:")
    # the same home and the same Postgres, pointed at the server: no run there yet
    remote = json.loads(run_enrich(home, "--target", "server", "status", "--json", env=env).stdout)
    assert remote["warehouse"] == f"clickhouse://127.0.0.1:{server.port}/polymarket"
    assert remote["checkpoint"] is None
    assert remote["checkpoints"]["local"]["state"] == "none"
    assert remote["checkpoints"]["postgres"]["state"] == "none"
