"""The `server` target end to end, over ClickHouse's HTTP interface (chdb_http.py serves the engine).

The same seed is run on an embedded home and through the server; their tables must agree checksum
for checksum. The server runs in a directory of its own, so nothing here works unless every byte
the client means the engine to read travels over HTTP.
"""

from __future__ import annotations

import csv
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench import torture
from conftest import PROJECT_DIR, enrich_env, query, run_enrich, seeded_copy
from server_fixtures import ChdbServer, chdb_server, free_port

from enrich.checkpoints import read_local, state_path
from enrich.errors import ExitCode

pytestmark = pytest.mark.server

RESULTS = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")
SOURCES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")


def checksum_sql(database: str, name: str) -> str:
    """Row count and an order-independent hash of every column but computed_at (a wall clock)."""
    return (f"select count(), sum(cityHash64(tuple(*))) from (select * except (computed_at)"
            f" from `{database}`.`{name}`)") if name in RESULTS else (
            f"select count(), sum(cityHash64(tuple(*))) from `{database}`.`{name}`")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, tiny_seed: Path) -> dict[str, tuple[int, int]]:
    """Checksums of an embedded run of the tiny seed."""
    home = seeded_copy(tiny_seed, tmp_path_factory.mktemp("embedded"))
    run_enrich(home, "run", "--step", "all", "--fresh", "--local-checkpoints-only")
    sums = {}
    for name in (*SOURCES, *RESULTS):
        rows = query(home, checksum_sql("polymarket", name))
        sums[name] = (int(rows[0][0]), int(rows[0][1]))
    return sums


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbServer]:
    with chdb_server(tmp_path_factory.mktemp("server")) as running:
        yield running


def server_sums(server: ChdbServer, database: str) -> dict[str, tuple[int, int]]:
    client = server.client()
    try:
        return {name: tuple(int(v) for v in client.query(checksum_sql(database, name)).result_rows[0])
                for name in (*SOURCES, *RESULTS)}
    finally:
        client.close()


def enrich_server(home: Path, server: ChdbServer, *args: str, database: str = "polymarket",
                  check: bool = True, **extra: str):
    env = enrich_env(**server.env(database), **extra)
    return run_enrich(home, "--target", "server", *args, env=env, check=check)


def test_seed_run_gates_export_through_server_equal_embedded(
        server: ChdbServer, embedded: dict, tmp_path: Path) -> None:
    home = tmp_path / "home"
    enrich_server(home, server, "seed", "--scale", "tiny")
    enrich_server(home, server, "run", "--step", "all", "--fresh", "--local-checkpoints-only")
    gates = enrich_server(home, server, "gates")
    assert "0 failed" in gates.stdout, gates.stdout
    assert server_sums(server, "polymarket") == embedded

    # export writes on the client's disk, not the server's
    out = tmp_path / "accuracy.csv"
    enrich_server(home, server, "export", "wallet_accuracy", "--out", str(out))
    with out.open(newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == embedded["wallet_accuracy"][0] > 0
    assert not list(server.user_files.rglob("accuracy.csv"))

    # a refresh through the server: a fee corrected in place, as operators repair data, is found
    # from the sources' row hashes and refreshed to what a full run on the same data makes
    client = server.client()
    try:
        [(trade, condition)] = client.query("select flow_id, condition_id from polymarket.pnl"
                                            " where flow_type = 'BUY' order by flow_id limit 1").result_rows
        client.command("alter table polymarket.trades_raw update fee_usd = fee_usd + 1"
                       " where trade_id = {t:String}", parameters={"t": trade},
                       settings={"mutations_sync": 2})
    finally:
        client.close()
    refreshed = enrich_server(home, server, "run", "--changed", "--local-checkpoints-only").stdout
    assert "--changed: 1 condition(s) changed since the last build, 1 in the refresh scope" in refreshed
    after_refresh = server_sums(server, "polymarket")
    assert after_refresh["pnl"] != embedded["pnl"]
    enrich_server(home, server, "run", "--fresh", "--local-checkpoints-only")
    assert server_sums(server, "polymarket") == after_refresh, condition


def test_load_streams_files_from_the_client(server: ChdbServer, embedded: dict, tiny_seed: Path,
                                           tmp_path: Path) -> None:
    """`enrich load` of files only the client can see, then a run: the same tables as embedded.

    Depends on the loader sending the files over the connection (issue 10, d-loader): a loader
    reading them with file() gets the server's refusal instead.
    """
    seeded = tmp_path / "seeded"
    files = tmp_path / "files"
    files.mkdir()
    seeded_copy(tiny_seed, seeded)
    for name in SOURCES:
        run_enrich(seeded, "export", name, "--out", str(files / f"{name}.parquet"))
    home = tmp_path / "home"
    enrich_server(home, server, "load", str(files), database="loaded")
    enrich_server(home, server, "run", "--step", "all", "--fresh", "--local-checkpoints-only",
                  database="loaded")
    assert server_sums(server, "loaded") == embedded


@pytest.mark.parametrize("case", ["wrong password", "unreachable port"])
def test_connection_errors_are_one_line_without_password(server: ChdbServer, tmp_path: Path,
                                                         case: str) -> None:
    secret = "Not-The-Password-42"
    env = server.env()
    if case == "wrong password":
        env["CLICKHOUSE_PASSWORD"] = secret
    else:
        env["CLICKHOUSE_PORT"] = str(free_port())
        env["CLICKHOUSE_PASSWORD"] = secret
    proc = run_enrich(tmp_path / "home", "--target", "server", "run", "--local-checkpoints-only",
                      env=enrich_env(**env), check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == ExitCode.ERROR, output
    assert "Traceback" not in output
    assert secret not in output
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, proc.stderr
    assert f"127.0.0.1:{env['CLICKHOUSE_PORT']}" in errors[0]
    if case == "wrong password":
        assert "516" in errors[0] or "Authentication failed" in errors[0]


def test_server_refuses_what_a_server_refuses(server: ChdbServer, tmp_path: Path) -> None:
    """The double is only useful if chDB's laxities are closed: files, statements, logins."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    client_file = tmp_path / "client.csv"
    client_file.write_text("1,2\n")
    (server.user_files / "mine.csv").write_text("3,4\n")
    client = server.client()
    try:
        assert client.query("select * from file('mine.csv', CSV)").result_rows == [(3, 4)]
        for statement, code in ((f"select * from file('{client_file}', CSV)", 291),
                                ("select * from file({p:String}, CSV)", 291),
                                ("select 1; select 2", 62)):
            with pytest.raises(DatabaseError) as raised:
                client.query(statement, parameters={"p": str(client_file)})
            assert f"code: {code}" in str(raised.value)
    finally:
        client.close()
    with pytest.raises(DatabaseError, match="516"):
        server.client(password="wrong").close()
    assert PROJECT_DIR not in server.user_files.parents


def test_connect_takes_settings_and_compression_from_the_profile(server: ChdbServer) -> None:
    """warehouse.connect opens the connection the profile describes, as dbt-clickhouse does."""
    from dbt.adapters.clickhouse.credentials import ClickHouseCredentials

    from enrich.warehouse import Target, connect

    def target(**profile: object) -> Target:
        creds = ClickHouseCredentials(host="127.0.0.1", port=server.port, user=server.user,
                                      password=server.password, schema="polymarket", **profile)
        return Target(name="server", type="clickhouse", database="polymarket", credentials=creds)

    client = connect(target(compression="lz4", custom_settings={"max_threads": 3, "max_block_size": 4321}))
    try:
        settings = client.command("select getSetting('max_threads'), getSetting('max_block_size')")
        assert settings == ["3", "4321"]
        # a compressed response the client had to decode
        assert client.query("select sum(number) from numbers(100000)").result_rows == [(4999950000,)]
        assert "lz4" in client.compression
    finally:
        client.close()
    plain = connect(target())
    try:
        assert not plain.compression
        assert plain.command("select getSetting('max_block_size')") != 4321
    finally:
        plain.close()


def test_second_sigterm_kills_the_batch_in_flight_on_the_server(
        server: ChdbServer, embedded: dict, tmp_path: Path) -> None:
    """Issue 22 on the server target: the kill goes over a connection of its own to the server
    process (chdb_http.py), never through shared memory."""
    database = "cancelled"
    home = tmp_path / "home"
    enrich_server(home, server, "seed", "--scale", "tiny", database=database)
    args = ("--target", "server", "run", "--step", "D", "--batch-size", "60", "--local-checkpoints-only")
    path = state_path(home, f"clickhouse://127.0.0.1:{server.port}/{database}")
    log = tmp_path / "run.log"
    # the third batch's build statement would sleep 600 s in the server's engine
    proc = torture.start(home, *args, "--fresh", log=log,
                         env=enrich_env(**server.env(database), ENRICH_TEST_STALL_AT="batch:3:600"))
    try:
        deadline = time.monotonic() + 240
        while (cp := read_local(path)) is None or len(cp.ranges_done("D")) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        time.sleep(5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        cancelled_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        took = time.monotonic() - cancelled_at
    finally:
        proc.kill()
    console = log.read_text()
    assert code == ExitCode.TERMINATED and took < 20, (code, took, console)
    assert re.search(r"killed \d+ engine quer(y|ies) in flight", console), console
    stopped = read_local(path)
    assert stopped is not None and stopped.status == "stopped"
    committed = stopped.ranges_done("D")
    assert committed == [list(r[:2]) for r in stopped.plan[:2]]
    inside = " or ".join(f"batch_key between {lo} and {hi}" for lo, hi in committed)
    client = server.client()
    try:
        # the server stopped the statement: it is not left running for nobody
        assert client.query("select count() from system.processes where query_id != queryID()"
                            ).result_rows == [(0,)]
        for name in ("pnl", "pnl_positions"):
            assert client.query(f"select count() from `{database}`.`{name}` where not ({inside})"
                                ).result_rows == [(0,)], name
    finally:
        client.close()

    resumed = enrich_server(home, server, *args[2:], "--resume", database=database)
    assert f"resuming {stopped.run_id}" in resumed.stdout
    client = server.client()
    try:
        for name in ("pnl", "pnl_positions"):
            found = client.query(checksum_sql(database, name)).result_rows[0]
            assert tuple(int(v) for v in found) == embedded[name], name
        assert client.query(f"select count() from system.tables where database = '{database}'"
                            " and name like '%\\_\\_dbt\\_%'").result_rows == [(0,)]
    finally:
        client.close()
