"""`enrich run` as operators run it: real chDB, real dbt, real Postgres, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from conftest import ADMIN_URL, PROJECT_DIR, embedded, enrich_env, query, run_enrich, seeded_copy, state_file

from enrich.checkpoints import JOB, read_local
from enrich.errors import EnrichError, ExitCode
from enrich.locks import RunLock

pytestmark = pytest.mark.reliability

BATCH_SIZE = "40"  # the tiny scale has 400 pairs: about a dozen batches
TABLES = ("pnl", "pnl_positions")


def checksums(home: Path) -> dict[str, tuple]:
    """Order-independent content hash of each P&L table, without the build timestamp."""
    return {
        name: tuple(query(home, "select count(), sum(cityHash64(tuple(*))) from"
                                f" (select * except (computed_at) from polymarket.{name})")[0])
        for name in TABLES
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, tiny_seed: Path) -> tuple[Path, dict[str, tuple]]:
    """A seeded home and its tables after an uninterrupted run in one batch: what every interrupted
    run must end up equal to. (The tests share this home: each starts its runs with --fresh or from
    the complete state this run leaves.)"""
    home = seeded_copy(tiny_seed, tmp_path_factory.mktemp("warehouse"))
    out = run_enrich(home, "run", "--step", "D").stdout
    assert "batch 1/1 " in out
    sums = checksums(home)
    assert all(count > 0 for count, _ in sums.values())
    return home, sums


def start(home: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "enrich", "--home", str(home), *args], cwd=PROJECT_DIR, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def committed(home: Path) -> int:
    path = state_file(home)
    checkpoint = read_local(path) if path.exists() else None
    return len(checkpoint.ranges_done("D")) if checkpoint and checkpoint.status == "running" else 0


def wait_for_batches(home: Path, proc: subprocess.Popen[str], batches: int, timeout: float = 120) -> None:
    """Poll the state file until `batches` batches of the current run have committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"runner exited {proc.returncode} early:\n{out}\n{err}")
        if committed(home) >= batches:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {batches} batches within {timeout}s")


def ledger(url: str, run_id: str) -> list[tuple[int, int, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("select batch_idx, key_lo, key_hi from ops_batch_ledger where run_id = %s"
                            " order by batch_idx", [run_id]).fetchall()


def test_step_d_prices_every_resolved_pair_and_conserves_value_exactly(
    reference: tuple[Path, dict[str, tuple]],
) -> None:
    home, _ = reference
    unpriced = query(home, "select count() from polymarket.pnl_positions where is_resolved = 1"
                           " and realized_pnl_usd is null")
    missing = query(home, "select count() from (select distinct wallet_address, condition_id"
                          " from polymarket.int_flows_unioned where is_resolved = 1) as flows"
                          " left anti join polymarket.pnl_positions as positions"
                          " using (wallet_address, condition_id)")
    # the seed is a closed system: per market, every wallet's P&L sums to minus the fees, to the unit
    markets = query(home, "select count(), countIf(imbalance != 0) from (select market_id,"
                          " sum(realized_pnl_usd) + sum(fee_usd) as imbalance from polymarket.pnl"
                          " where is_resolved = 1 group by market_id)")
    assert unpriced == [(0,)] and missing == [(0,)]
    assert markets[0][0] > 0 and markets[0][1] == 0, markets


def test_kills_and_stops_resume_to_the_same_tables(reference: tuple[Path, dict[str, tuple]],
                                                  own_pg: str) -> None:
    home, sums = reference
    env = enrich_env(POSTGRES_URL=own_pg)
    run = ("run", "--step", "D", "--batch-size", BATCH_SIZE)

    first = start(home, *run, "--fresh", env=env)
    wait_for_batches(home, first, 2)
    first.send_signal(signal.SIGKILL)
    first.wait()

    # resume takes the dead runner's lock over ...
    done = committed(home)
    stopped = start(home, *run, "--resume", env=env)
    wait_for_batches(home, stopped, done + 1)
    # ... a second runner on the same home is refused and names it ...
    second = run_enrich(home, "run", "--step", "D", "--resume", env=env, check=False)
    assert second.returncode == ExitCode.ERROR
    assert f"pid {stopped.pid}" in second.stderr
    # ... Postgres drops its connection: it warns, keeps the local file, reconnects, catches up ...
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(pid) from pg_stat_activity"
                      " where datname = %s and pid <> pg_backend_pid()", [own_pg.rsplit("/", 1)[1]])
    # ... and it stops cleanly on SIGTERM, after the batch in flight
    wait_for_batches(home, stopped, done + 4)
    stopped.send_signal(signal.SIGTERM)
    out, err = stopped.communicate(timeout=120)
    assert stopped.returncode == 143, err
    assert f"took over the lock of runner pid {first.pid}" in out
    assert "warning: Postgres checkpoint at" in out and "caught up" in out
    checkpoint = read_local(state_file(home))
    assert checkpoint.status == "stopped" and len(checkpoint.ranges_done("D")) >= done + 4
    rows = ledger(own_pg, checkpoint.run_id)
    assert [(lo, hi) for _, lo, hi in rows] == [tuple(r) for r in checkpoint.ranges_done("D")]
    assert [idx for idx, _, _ in rows] == list(range(len(rows)))
    assert not (home / f"{JOB}.pid").exists()

    third = start(home, *run, "--resume", env=env)
    wait_for_batches(home, third, len(checkpoint.ranges_done("D")) + 2)
    third.send_signal(signal.SIGKILL)
    third.wait()

    # no flag with an unfinished checkpoint: refuse with exit 3, say what to do
    refused = run_enrich(home, "run", "--step", "D", env=env, check=False)
    assert refused.returncode == ExitCode.UNFINISHED
    assert "--resume" in refused.stderr and "--fresh" in refused.stderr

    run_enrich(home, *run, "--resume", env=env)
    final = read_local(state_file(home))
    assert final.status == "complete" and final.run_id == checkpoint.run_id
    assert final.pairs_done("D") == final.total_pairs == 400
    keys = [k for lo, hi in final.ranges_done("D") for k in range(lo, hi + 1)]
    assert keys == list(range(256))
    rows = ledger(own_pg, final.run_id)
    assert [(lo, hi) for _, lo, hi in rows] == [tuple(r) for r in final.ranges_done("D")]
    assert [idx for idx, _, _ in rows] == list(range(final.total_batches))
    with psycopg.connect(own_pg) as conn:
        assert conn.execute("select status, batches_done from ops_run_checkpoints where job = %s",
                            [JOB]).fetchone() == ("complete", final.total_batches)

    assert checksums(home) == sums
    assert query(home, "select name from system.tables where database = 'polymarket'"
                       " and name like '%\\_\\_dbt\\_%'") == []
    log = (home / f"{JOB}.console.log").read_text()
    assert "SIGTERM received" in log and f"batch {final.total_batches}/{final.total_batches} " in log

    # a damaged state file: the complete run in Postgres is the baseline, and nothing changed since
    state_file(home).write_text('{"job": "full-enrichment", "step"')
    resumed = run_enrich(home, "run", "--step", "D", "--resume", env=env)
    assert f"the last run {final.run_id} is complete" in resumed.stdout
    assert "plan: 0 batches" in resumed.stdout and "nothing changed" in resumed.stdout
    assert checksums(home) == sums


def test_damaged_checkpoint_is_never_silently_restarted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    state = state_file(home)
    state.write_text('{"job": "full-enrichment", "step": "D", "batch_')
    for flags in ((), ("--resume",)):
        proc = run_enrich(home, "run", "--step", "D", *flags, check=False)
        assert proc.returncode == ExitCode.ERROR
        assert str(state) in proc.stderr and "invalid JSON" in proc.stderr and "--fresh" in proc.stderr
        assert "Traceback" not in proc.stderr
    state.write_text(json.dumps({"job": "nightly-backup", "status": "running"}))
    proc = run_enrich(home, "run", "--step", "D", "--resume", check=False)
    assert proc.returncode == ExitCode.ERROR and "nightly-backup" in proc.stderr


def test_unreachable_postgres_is_named_without_its_password(tmp_path: Path) -> None:
    env = enrich_env(POSTGRES_URL="postgresql://ops:hunter2secret@127.0.0.1:1/enrichdb")
    proc = run_enrich(tmp_path, "run", "--step", "D", env=env, check=False)
    assert proc.returncode == ExitCode.ERROR
    assert "127.0.0.1:1/enrichdb" in proc.stderr and "--local-checkpoints-only" in proc.stderr
    everything = proc.stdout + proc.stderr + (tmp_path / f"{JOB}.console.log").read_text()
    assert "hunter2secret" not in everything


def sql_command(home: Path, statement: str, parameters: dict) -> None:
    with embedded(home) as client:
        client.command(statement, parameters=parameters)


def test_tables_built_with_a_larger_batch_partitions_need_fresh(
    reference: tuple[Path, dict[str, tuple]],
) -> None:
    home, sums = reference
    # whatever an earlier test left there; the refusal under test comes from the warehouse alone
    state_file(home).unlink(missing_ok=True)
    # as if pnl had been built with P = 512: a partition beyond today's 256 keys
    sql_command(home, "insert into polymarket.pnl select * replace (toUInt16(300) as batch_key)"
                      " from polymarket.pnl limit 1", {})
    proc = run_enrich(home, "run", "--step", "D", check=False)
    assert proc.returncode == ExitCode.USAGE
    assert "pnl hold batch keys >= 256" in proc.stderr and "--fresh" in proc.stderr
    out = run_enrich(home, "run", "--step", "D", "--fresh").stdout
    assert "--fresh: dropped pnl, pnl_positions" in out
    assert checksums(home) == sums


def test_a_kill_between_steps_resumes_with_the_next_step(reference: tuple[Path, dict[str, tuple]]) -> None:
    home, sums = reference
    killed = run_enrich(home, "run", "--step", "all", "--fresh",
                        env=enrich_env(ENRICH_TEST_KILL_AT="step_completed:1"), check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    state = read_local(state_file(home))
    assert (state.step, state.steps_done, state.status) == ("E", ["D"], "running")
    resumed = run_enrich(home, "run", "--resume")
    assert "step E complete" in resumed.stdout and "step D complete" not in resumed.stdout
    assert checksums(home) == sums
    assert read_local(state_file(home)).status == "complete"


def test_lock_excludes_a_live_runner_and_takes_over_a_dead_ones(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from enrich.locks import RunLock;"
         " RunLock(Path(sys.argv[1]), 'full-enrichment').acquire(); print('held', flush=True);"
         " time.sleep(60)", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(EnrichError, match=f"pid {holder.pid}"):
            RunLock(tmp_path, JOB).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = RunLock(tmp_path, JOB)
    assert lock.acquire() == holder.pid  # the dead runner's pid file is recognised as stale
    try:
        assert (tmp_path / f"{JOB}.pid").read_text().strip() == str(os.getpid())
    finally:
        lock.release()
    assert not (tmp_path / f"{JOB}.pid").exists()


MUTATION_PROBE = """
import json, sys
from enrich.config import Config
from enrich.errors import EnrichError
from enrich.mutations import MutationPolicy, wait_for_mutations
from enrich.warehouse import connect, resolve_target

client = connect(resolve_target(Config.from_env(home=sys.argv[1])))
client.command("create database if not exists polymarket")
client.command("create table polymarket.probe (k UInt32, v UInt32) engine = MergeTree order by k")
client.command("insert into polymarket.probe select number, number from numbers(10)")
try:
    # a mutation that can never finish: it fails on every part, forever
    client.command("alter table polymarket.probe update v = throwIf(k >= 0, 'probe failure') + v where 1",
                   settings={"mutations_sync": 0})
except Exception:
    pass
logs = []
out = {}
try:
    wait_for_mutations(client, ["polymarket"], MutationPolicy(timeout=2, poll=0.2), logs.append)
except EnrichError as ex:
    out["timeout"] = str(ex)
out["other_database"] = wait_for_mutations(client, ["elsewhere"], MutationPolicy(timeout=0), logs.append)
out["under_threshold"] = wait_for_mutations(client, ["polymarket"], MutationPolicy(threshold=1, timeout=0),
                                            logs.append)
client.command("kill mutation where database = 'polymarket' and table = 'probe'")
out["after_kill"] = wait_for_mutations(client, ["polymarket"], MutationPolicy(timeout=10, poll=0.2),
                                       logs.append)
out["logs"] = logs
print(json.dumps(out))
"""


def test_mutation_wait_times_out_with_the_failure_reason(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", MUTATION_PROBE, str(tmp_path)], cwd=PROJECT_DIR,
                          env=enrich_env(), capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "1 mutation(s) still unfinished after 2s" in out["timeout"]
    assert "polymarket.probe" in out["timeout"]
    assert any("is failing" in line and "probe failure" in line for line in out["logs"])
    assert out["other_database"] == 0
    assert out["under_threshold"] == 1
    assert out["after_kill"] == 0


RUN_THEN_LIST_DROPPED = """
import sys
from enrich import cli
from enrich.config import Config
from enrich.warehouse import connect, resolve_target
code = cli.main(["--home", sys.argv[1], "run", "--batch-size", "60"])
client = connect(resolve_target(Config.from_env(home=sys.argv[1])))
print(code, client.query("select count() from system.dropped_tables").result_rows[0][0])
"""


def test_a_run_leaves_no_dropped_table_waiting_for_its_space(tmp_path: Path, tiny_seed: Path) -> None:
    """Every table a run drops (staging tables of the batches, dbt's probes) frees its space at
    once: Atomic databases otherwise keep a dropped table's data until a later process opens
    the engine, and a kill loop grew a home by a gigabyte that way."""
    seeded_copy(tiny_seed, tmp_path)
    proc = subprocess.run([sys.executable, "-c", RUN_THEN_LIST_DROPPED, str(tmp_path)], cwd=PROJECT_DIR,
                          env=enrich_env(), capture_output=True, text=True, timeout=600)
    assert proc.stdout.strip().splitlines()[-1] == "0 0", proc.stdout + proc.stderr
