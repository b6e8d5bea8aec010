"""`enrich load` and `enrich export` against a real embedded warehouse, one home per test."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import enrich_env, query, run_enrich
from recorded import run_recorded

from enrich.errors import ExitCode

DB = "polymarket"
TABLES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")

WALLET_A = "0x" + "a" * 40
WALLET_B = "0x" + "b" * 40
INJECTION = "x' OR 1=1 --"
NON_UTF8_QUESTION = b"Caf\xe9 \xff question?"

TRADES = (
    "trade_id,tx_hash,block_time,wallet_address,market_id,condition_id,outcome_index,side,shares,usd_value,fee_usd\n"
    f"t1,0xt1,2025-03-01 01:21:08.552,{WALLET_A},m1,c1,0,BUY,100.123456,40.05,0.000001\n"
    f"t2,0xt1,2025-03-01 01:21:08.552,{WALLET_B},m1,c1,1,BUY,100,60,0\n"
    f"\"{INJECTION}\",0xt3,2025-03-02 23:59:59.999,{WALLET_B},m2,c2,2,SELL,"
    "12345678901234567890123456.654321,0,0\n"
)
CTF_EVENTS = (
    "event_id,block_time,wallet_address,market_id,condition_id,outcome_index,event_type,shares,usd_value\n"
    f"e1-0,2025-03-01 00:00:00.001,{WALLET_A},m1,c1,0,SPLIT,10,5\n"
    f"e1-1,2025-03-01 00:00:00.001,{WALLET_A},m1,c1,1,SPLIT,10,5\n"
)
# The first question spans two lines, so line numbers after it differ from row numbers.
MARKETS = (
    b"market_id,condition_id,question,category,outcome_count,outcome_labels,end_date\n"
    b"m1,c1,\"Will it \"\"rain\"\", then\nsnow?\",weather,2,\"['Yes','No']\",2025-04-01 00:00:00.000\n"
    b"m2,c2," + NON_UTF8_QUESTION + b",sports,3,\"['A','B','C']\",2025-05-01 12:00:00.5\n"
)
RESOLUTIONS = (
    "condition_id,payout_numerators,resolved_at\n"
    "c1,\"[1,0]\",2025-04-02 00:00:00.123\n"
    "c2,\"[0,0,1]\",2025-05-02 00:00:00\n"
)


def write_good_files(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "trades_raw.csv").write_text(TRADES)
    (directory / "ctf_events.csv").write_text(CTF_EVENTS)
    (directory / "markets_dim.csv").write_bytes(MARKETS)
    (directory / "resolutions.csv").write_text(RESOLUTIONS)
    return directory


def checksums(home: Path) -> dict[str, list]:
    """Row count and an order-independent content hash of every source table, and the number of
    scratch tables a load left behind (always 0)."""
    parts = ", ".join(
        f"(select (count(), sum(cityHash64(tuple(*)))) from {DB}.{name}) as {name}" for name in TABLES
    )
    scratch = "(select count() from system.tables where database = {db:String} and endsWith(name, '__load'))"
    row = query(home, f"select {parts}, {scratch}", {"db": DB})[0]
    return dict(zip((*TABLES, "scratch"), row, strict=True))


def rows(home: Path, sql: str) -> list[list]:
    return [list(row) for row in query(home, sql)]


def millis(text: str) -> int:
    return round(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_csv_load_keeps_exact_values(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = run_enrich(home, "load", str(write_good_files(tmp_path / "in")))
    assert "replace" in proc.stdout
    for name, count in (("trades_raw", 3), ("ctf_events", 2), ("markets_dim", 2), ("resolutions", 2)):
        assert any(line.split()[:2] == [name, str(count)] for line in proc.stdout.splitlines()), proc.stdout

    trades = rows(home, f"select trade_id, toString(shares), toString(usd_value), toString(fee_usd), "
                         f"toUnixTimestamp64Milli(block_time), outcome_index, toString(side), wallet_address "
                         f"from {DB}.trades_raw order by trade_id")
    assert trades == [
        ["t1", "100.123456", "40.05", "0.000001", millis("2025-03-01 01:21:08.552"), 0, "BUY", WALLET_A],
        ["t2", "100", "60", "0", millis("2025-03-01 01:21:08.552"), 1, "BUY", WALLET_B],
        [INJECTION, "12345678901234567890123456.654321", "0", "0", millis("2025-03-02 23:59:59.999"), 2,
         "SELL", WALLET_B],
    ]
    markets = rows(home, f"select market_id, hex(question), outcome_count, outcome_labels, "
                          f"toUnixTimestamp64Milli(end_date) from {DB}.markets_dim order by market_id")
    assert markets == [
        ["m1", b'Will it "rain", then\nsnow?'.hex().upper(), 2, ["Yes", "No"],
         millis("2025-04-01 00:00:00")],
        ["m2", NON_UTF8_QUESTION.hex().upper(), 3, ["A", "B", "C"], millis("2025-05-01 12:00:00.500")],
    ]
    resolutions = rows(home, f"select condition_id, payout_numerators, toUnixTimestamp64Milli(resolved_at) "
                              f"from {DB}.resolutions order by condition_id")
    assert resolutions == [["c1", [1, 0], millis("2025-04-02 00:00:00.123")],
                           ["c2", [0, 0, 1], millis("2025-05-02 00:00:00")]]
    events = rows(home, f"select event_id, toString(event_type), toString(shares), toString(usd_value) "
                         f"from {DB}.ctf_events order by event_id")
    assert events == [["e1-0", "SPLIT", "10", "5"], ["e1-1", "SPLIT", "10", "5"]]
    # The injected id is data: every table still holds exactly its rows.
    state = checksums(home)
    assert [state[name][0] for name in TABLES] == [3, 2, 2, 2]
    assert state["scratch"] == 0


def test_replace_is_idempotent_and_append_adds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = write_good_files(tmp_path / "in")
    run_enrich(home, "load", str(files))
    first = checksums(home)
    run_enrich(home, "load", str(files))
    assert checksums(home) == first

    # Without a ctf_events file, append leaves the table alone and adds the others' rows again.
    (files / "ctf_events.csv").unlink()
    proc = run_enrich(home, "load", str(files), "--append")
    assert "append" in proc.stdout
    doubled = checksums(home)
    assert doubled["ctf_events"] == first["ctf_events"]
    for name in ("trades_raw", "markets_dim", "resolutions"):
        count, digest = first[name]
        assert doubled[name] == [2 * count, (2 * int(digest)) % 2**64]

    # Replacing without a ctf_events file empties it: the directory is the whole dataset.
    run_enrich(home, "load", str(files))
    after = checksums(home)
    assert after == {**first, "ctf_events": [0, 0]}

    # Appending one table needs its file only; a replace still needs every required table
    only_trades = tmp_path / "only-trades"
    only_trades.mkdir()
    (only_trades / "trades_raw.csv").write_text((files / "trades_raw.csv").read_text())
    proc = run_enrich(home, "load", str(only_trades), "--append")
    for name in ("ctf_events", "markets_dim", "resolutions"):
        assert re.search(rf"{name}\s+no file, left as it was", proc.stdout), proc.stdout
    count, digest = first["trades_raw"]
    assert checksums(home) == {**after, "trades_raw": [2 * count, (2 * int(digest)) % 2**64]}
    refused = run_enrich(home, "load", str(only_trades), check=False)
    assert refused.returncode == ExitCode.ERROR and "missing markets_dim.csv" in refused.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run_enrich(home, "load", str(empty), "--append", check=False)
    assert nothing.returncode == ExitCode.ERROR and f"{empty}: no source file" in nothing.stderr


def _replace(name: str, old: str | bytes, new: str | bytes) -> Callable[[Path], None]:
    def mutate(directory: Path) -> None:
        path = directory / name
        data = path.read_bytes()
        old_b = old.encode() if isinstance(old, str) else old
        new_b = new.encode() if isinstance(new, str) else new
        assert old_b in data, f"fixture text {old!r} not in {name}"
        path.write_bytes(data.replace(old_b, new_b, 1))
    return mutate


def _line_of(directory: Path, name: str, marker: bytes) -> int:
    """The 1-based line of the file holding MARKER, counted independently of the loader."""
    lines = (directory / name).read_bytes().split(b"\n")
    return next(i for i, line in enumerate(lines, start=1) if marker in line)


def _remove(name: str) -> Callable[[Path], None]:
    return lambda directory: (directory / name).unlink()


def _drop_fee_column(directory: Path) -> None:
    path = directory / "trades_raw.csv"
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in path.read_text().splitlines()) + "\n")


# (id, mutation, file, marker of the bad line or None for the header, expected message parts)
BAD_INPUTS = [
    ("missing-column", _drop_fee_column, "trades_raw.csv", None, ["line 1", "missing column(s) fee_usd"]),
    ("extra-column", _replace("resolutions.csv", "resolved_at\n", "resolved_at,note\n"), "resolutions.csv",
     None, ["line 1", "unexpected column(s) note"]),
    ("duplicate-column", _replace("resolutions.csv", "resolved_at\n", "resolved_at,condition_id\n"),
     "resolutions.csv", None, ["line 1", "duplicate column(s) condition_id"]),
    ("unparsable-decimal", _replace("trades_raw.csv", ",100,60,", ",xx,60,"), "trades_raw.csv", b",xx,",
     ["column shares", "cannot parse 'xx' as Decimal(38, 6)"]),
    ("seventh-decimal", _replace("trades_raw.csv", ",100,60,", ",1.1234567,60,"), "trades_raw.csv",
     b"1.1234567", ["column shares", "'1.1234567'"]),
    ("empty-decimal", _replace("trades_raw.csv", ",100,60,", ",100,,"), "trades_raw.csv", b",100,,",
     ["column usd_value", "empty value"]),
    ("uint8-overflow", _replace("trades_raw.csv", ",c1,1,BUY", ",c1,256,BUY"), "trades_raw.csv", b",256,",
     ["column outcome_index", "'256'", "out of range for UInt8"]),
    ("enum-number", _replace("trades_raw.csv", ",c1,1,BUY", ",c1,1,2"), "trades_raw.csv", b",c1,1,2,",
     ["column side", "'2'"]),
    ("enum-unknown", _replace("ctf_events.csv", "1,SPLIT", "1,SPLITT"), "ctf_events.csv", b"SPLITT",
     ["column event_type", "'SPLITT'"]),
    ("unclosed-array", _replace("resolutions.csv", '"[0,0,1]"', '"[0,0,1"'), "resolutions.csv", b"[0,0,1\"",
     ["column payout_numerators", "cannot parse '[0,0,1' as Array(UInt32)"]),
    ("letters-in-array", _replace("resolutions.csv", '"[1,0]"', '"[a,b]"'), "resolutions.csv", b"[a,b]",
     ["column payout_numerators", "'[a,b]'"]),
    ("array-element-overflow", _replace("resolutions.csv", '"[1,0]"', '"[1,4294967296]"'), "resolutions.csv",
     b"4294967296", ["column payout_numerators", "out of range for UInt32"]),
    ("bad-time", _replace("resolutions.csv", "2025-05-02 00:00:00", "2025-13-02 00:00:00"), "resolutions.csv",
     b"2025-13-02", ["column resolved_at", "DateTime64(6, 'UTC')"]),
    ("after-multiline-field", _replace("markets_dim.csv", b",sports,3,", b",sports,three,"),
     "markets_dim.csv", b"three", ["column outcome_count", "'three'"]),
    ("too-few-fields", _replace("ctf_events.csv", ",SPLIT,10,5\ne1-1", ",SPLIT,10\ne1-1"), "ctf_events.csv",
     b"e1-0", ["8 field(s), the header has 9"]),
    ("missing-file", _remove("resolutions.csv"), None, None, ["missing resolutions.csv"]),
]


@pytest.fixture(scope="module")
def loaded_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A warehouse holding the good dataset; every bad load must leave it exactly so."""
    base = tmp_path_factory.mktemp("loaded")
    home = base / "home"
    run_enrich(home, "load", str(write_good_files(base / "good")))
    return home, checksums(home)


# Append mode parses the same way; these cases check that it also swaps nothing on failure.
APPEND_CASES = ("unparsable-decimal", "unclosed-array", "after-multiline-field")


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("mutate", "name", "marker", "expected", "append"),
    [(*case[1:], False) for case in BAD_INPUTS]
    + [(*case[1:], True) for case in BAD_INPUTS if case[0] in APPEND_CASES],
    ids=[case[0] for case in BAD_INPUTS] + [f"{c}-append" for c in APPEND_CASES],
)
def test_bad_input_is_named_and_loads_nothing(
    loaded_home: tuple[Path, dict], tmp_path: Path, mutate: Callable[[Path], None], name: str | None,
    marker: bytes | None, expected: list[str], append: bool,
) -> None:
    home, before = loaded_home
    files = write_good_files(tmp_path / "in")
    mutate(files)
    proc = run_enrich(home, "load", str(files), *(["--append"] if append else []), check=False)
    assert proc.returncode == ExitCode.ERROR, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    message = proc.stderr
    if name is not None:
        assert f"enrich: {name}: " in message
    if marker is not None:
        assert f"line {_line_of(files, name, marker)}," in message or \
            f"line {_line_of(files, name, marker)}:" in message, message
    for part in expected:
        assert part in message, message
    assert checksums(home) == before


def test_both_formats_for_one_table_is_an_error(loaded_home: tuple[Path, dict], tmp_path: Path) -> None:
    home, before = loaded_home
    files = write_good_files(tmp_path / "in")
    shutil.copy(files / "resolutions.csv", files / "resolutions.parquet")
    proc = run_enrich(home, "load", str(files), check=False)
    assert proc.returncode == ExitCode.ERROR
    assert "resolutions.csv and resolutions.parquet" in proc.stderr
    assert checksums(home) == before


def test_export_round_trips_through_load(tmp_path: Path) -> None:
    source = tmp_path / "source"
    run_enrich(source, "load", str(write_good_files(tmp_path / "in")))
    expected = checksums(source)
    for suffix in ("parquet", "csv"):
        out = tmp_path / f"out-{suffix}"
        for name in TABLES:
            proc = run_enrich(source, "export", name, "--out", str(out / f"{name}.{suffix}"))
            assert proc.stdout.startswith(f"exported {expected[name][0]} rows of {name}")
        assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.{suffix}" for n in TABLES)
        copy = tmp_path / f"copy-{suffix}"
        run_enrich(copy, "load", str(out))
        assert checksums(copy) == expected


def test_export_unknown_name_lists_what_exists(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_enrich(home, "load", str(write_good_files(tmp_path / "in")))
    out = tmp_path / "x.csv"
    proc = run_enrich(home, "export", "no_such_model", "--out", str(out), check=False)
    assert proc.returncode == ExitCode.ERROR
    assert "no table or view named 'no_such_model'" in proc.stderr
    assert all(name in proc.stderr for name in TABLES)
    assert not out.exists()
    assert list(tmp_path.glob(".x.csv*")) == []


@pytest.mark.reliability
def test_parquet_nulls_are_errors_and_types_convert(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    home = tmp_path / "home"
    files = write_good_files(tmp_path / "in")
    run_enrich(home, "load", str(files))
    before = checksums(home)
    (files / "resolutions.csv").unlink()
    stamps = [datetime(2025, 4, 2, tzinfo=UTC)] * 3
    resolutions = {
        "condition_id": pa.array(["c1", "c2", None]),
        "payout_numerators": pa.array([[1, 0], [0, 1], [1, 1]], pa.list_(pa.int64())),
        "resolved_at": pa.array(stamps, pa.timestamp("ms", tz="UTC")),
    }
    pq.write_table(pa.table(resolutions), files / "resolutions.parquet")
    proc = run_enrich(home, "load", str(files), check=False)
    assert proc.returncode == ExitCode.ERROR
    assert "resolutions.parquet" in proc.stderr and "condition_id" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert checksums(home) == before

    resolutions["condition_id"] = pa.array(["c1", "c2", "c3"])
    pq.write_table(pa.table(resolutions), files / "resolutions.parquet")
    run_enrich(home, "load", str(files))
    loaded = rows(home, f"select condition_id, payout_numerators from {DB}.resolutions order by condition_id")
    assert loaded == [["c1", [1, 0]], ["c2", [0, 1]], ["c3", [1, 1]]]


# -- the file travels from the client ---------------------------------------------------------

def test_no_load_path_reads_client_files_through_the_engine(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    home = tmp_path / "home"
    files = write_good_files(tmp_path / "in")
    # Parquet takes its own path through the engine; CSV for the other tables.
    (files / "resolutions.csv").unlink()
    stamps = [datetime(2025, 4, 2, tzinfo=UTC), datetime(2025, 5, 2, tzinfo=UTC)]
    pq.write_table(pa.table({
        "condition_id": pa.array(["c1", "c2"]),
        "payout_numerators": pa.array([[1, 0], [0, 0, 1]], pa.list_(pa.int64())),
        "resolved_at": pa.array(stamps, pa.timestamp("ms", tz="UTC")),
    }), files / "resolutions.parquet")
    market = tmp_path / "dims" / "new_market.jsonl"
    market.parent.mkdir()
    market.write_text(json.dumps({"market_id": "m9", "condition_id": "c9", "question": "Q?", "category": "x",
                                  "outcome_count": 2, "outcome_labels": ["Yes", "No"],
                                  "end_date": "2025-06-01 00:00:00"}) + "\n")
    statements = run_recorded(tmp_path, [["--home", str(home), "load", str(files)],
                                         ["--home", str(home), "dims", "--from", str(market)]])
    # the uploads were recorded: this engine takes an INSERT's body from a temporary copy
    assert any("from infile" in s.lower() for s in statements)
    assert not [s for s in statements if re.search(r"\bfile\s*\(", s, re.IGNORECASE)]
    # The engine never saw where the files are: nothing it received names their directories.
    assert not [s for s in statements if str(files) in s or str(market.parent) in s]
    state = checksums(home)
    assert [state[name][0] for name in TABLES] == [3, 2, 3, 2]
    assert rows(home, f"select market_id from {DB}.markets_dim where market_id = 'm9'") == [["m9"]]


# -- issue 15: a load is all or nothing, across kills and faults ------------------------------

def _changed_files(directory: Path) -> Path:
    """The good dataset with one value changed in every table, so a mix of old and new shows."""
    write_good_files(directory)
    for mutate in (_replace("trades_raw.csv", ",100,60,", ",101,60,"),
                   _replace("ctf_events.csv", "1,SPLIT,10,5", "1,SPLIT,11,5"),
                   _replace("markets_dim.csv", b",weather,", b",climate,"),
                   _replace("resolutions.csv", '"[1,0]"', '"[0,1]"')):
        mutate(directory)
    return directory


@pytest.fixture(scope="module")
def changed_loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    """The checksums of a home after an uninterrupted load of the changed files (the same for every
    kill point, so made once)."""
    base = tmp_path_factory.mktemp("changed-loaded")
    run_enrich(base / "expected", "load", str(_changed_files(base / "new")))
    return checksums(base / "expected")


@pytest.mark.reliability
@pytest.mark.parametrize(("command", "kill_at", "exchanges_made"), [
    # between two exchanges: the swap had committed, the next command completes it
    ("load", "load-exchange:1", 1), ("seed", "load-exchange:2", 2),
    # between marking two scratch tables ready: not committed, the next command drops the scratch
    ("load", "load-mark:1", 0),
])
def test_a_swap_killed_midway_is_completed_or_undone_by_the_next_command(
        request: pytest.FixtureRequest, tmp_path: Path, command: str, kill_at: str,
        exchanges_made: int) -> None:
    home = tmp_path / "home"
    run_enrich(home, "load", str(write_good_files(tmp_path / "old")))
    old = checksums(home)
    args = (["load", str(_changed_files(tmp_path / "new"))] if command == "load"
            else ["seed", "--scale", "tiny"])
    # the tables after the same command uninterrupted: the module's load of the changed files, or
    # the session's home after the same `enrich seed --scale tiny` (same seed, same bytes)
    new = (request.getfixturevalue("changed_loaded") if command == "load"
           else checksums(request.getfixturevalue("tiny_seed")))
    assert all(old[name] != new[name] for name in TABLES)

    killed = run_enrich(home, *args, check=False, env=enrich_env(ENRICH_TEST_KILL_AT=kill_at))
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    mixed = checksums(home)
    # Killed after EXCHANGES_MADE exchanges: those tables are new, the others still old.
    swapped = [position < exchanges_made for position in range(len(TABLES))]
    assert [mixed[name] == new[name] for name in TABLES] == swapped
    assert [mixed[name] == old[name] for name in TABLES] == [not s for s in swapped]
    assert mixed["scratch"] > 0

    # The next command (here a load that fails on its own bad file) resolves the interrupted one first.
    bad = write_good_files(tmp_path / "bad")
    _replace("trades_raw.csv", ",100,60,", ",xx,60,")(bad)
    proc = run_enrich(home, "load", str(bad), check=False)
    assert proc.returncode == ExitCode.ERROR and "column shares" in proc.stderr, proc.stderr
    assert checksums(home) == (new if exchanges_made else old)
    assert _leftover_tables(home) == []


def _market_file(path: Path) -> Path:
    """One market row to merge with `enrich dims --from`."""
    path.write_text(json.dumps({"market_id": "m9", "condition_id": "c9", "question": "Q?", "category": "x",
                                "outcome_count": 2, "outcome_labels": ["Yes", "No"],
                                "end_date": "2025-06-01 00:00:00"}) + "\n")
    return path


@pytest.fixture(scope="module")
def dims_merged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    """The checksums of the good dataset after an uninterrupted merge of the market file: what every
    killed merge must end up as once committed (the same for every kill point, so made once)."""
    base = tmp_path_factory.mktemp("dims-merged")
    expected_home = base / "expected"
    run_enrich(expected_home, "load", str(write_good_files(base / "same")))
    run_enrich(expected_home, "dims", "--from", str(_market_file(base / "market.jsonl")))
    return checksums(expected_home)


@pytest.mark.reliability
@pytest.mark.parametrize(("kill_at", "committed"), [("dims-merged:1", False), ("load-committed:1", True)])
def test_a_dims_merge_killed_midway_is_completed_or_undone_by_the_next_command(
        tmp_path: Path, kill_at: str, committed: bool, dims_merged: dict[str, list]) -> None:
    home = tmp_path / "home"
    run_enrich(home, "load", str(write_good_files(tmp_path / "old")))
    old = checksums(home)
    market = _market_file(tmp_path / "market.jsonl")
    new = dims_merged
    assert new["markets_dim"] != old["markets_dim"]

    killed = run_enrich(home, "dims", "--from", str(market), check=False,
                        env=enrich_env(ENRICH_TEST_KILL_AT=kill_at))
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert checksums(home)["markets_dim"] == old["markets_dim"] and _leftover_tables(home) != []

    # the next command (a merge that fails on its own bad file) finishes or undoes the killed one
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"market_id": "m10"}\n')
    proc = run_enrich(home, "dims", "--from", str(bad), check=False)
    assert proc.returncode == ExitCode.ERROR and "missing key(s)" in proc.stderr, proc.stderr
    assert checksums(home) == (new if committed else old)
    assert _leftover_tables(home) == []


def _leftover_tables(home: Path) -> list[str]:
    """Scratch and helper tables of loads, and those dropped but not freed yet (a drop without SYNC
    leaves their data until a later process opens the engine). dbt-clickhouse's own probe tables
    (`__dbt_exchange_test_*`) are not the loader's."""
    found = [r[0] for r in query(home, "select name from system.tables where database = {db:String} "
                                       "and position(name, '__') > 0", {"db": DB})]
    dropped = home / "chdb" / "metadata_dropped"
    pending = [p.name for p in dropped.iterdir()] if dropped.is_dir() else []
    return found + [name for name in pending if name.startswith(tuple(f"{DB}.{t}" for t in TABLES))]


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == ExitCode.ERROR, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_an_empty_file_empties_a_table_only_when_asked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = write_good_files(tmp_path / "in")
    run_enrich(home, "load", str(files))
    before = checksums(home)
    header = (files / "trades_raw.csv").read_text().splitlines()[0]
    (files / "trades_raw.csv").write_text(header + "\n")
    message = _one_line_error(run_enrich(home, "load", str(files), check=False))
    assert "trades_raw.csv" in message and "--allow-empty" in message and "(3 rows)" in message, message
    assert checksums(home) == before

    run_enrich(home, "load", str(files), "--allow-empty")
    assert checksums(home) == {**before, "trades_raw": [0, 0]}
    # Every replaced table's old copy was dropped with SYNC: nothing waits to be freed later.
    assert _leftover_tables(home) == []


def test_source_paths_that_are_not_readable_files(loaded_home: tuple[Path, dict], tmp_path: Path) -> None:
    home, before = loaded_home
    cases = {
        # Readable here (root): refused for what it holds, which is not echoed back.
        "shadow": lambda p: p.symlink_to("/etc/shadow"),
        "fifo": lambda p: os.mkfifo(p),
        "directory": lambda p: p.mkdir(),
        "dangling": lambda p: p.symlink_to(tmp_path / "nowhere.csv"),
        # A regular file by its mode whose read fails (EIO at offset 0)
        "unreadable": lambda p: p.symlink_to("/proc/self/mem"),
    }
    expected = {"shadow": "none of the columns of trades_raw", "fifo": "not a regular file",
                "directory": "not a regular file", "dangling": "cannot read", "unreadable": "cannot read"}
    for case, make in cases.items():
        files = write_good_files(tmp_path / case)
        (files / "trades_raw.csv").unlink()
        make(files / "trades_raw.csv")
        message = _one_line_error(run_enrich(home, "load", str(files), check=False))
        assert "trades_raw.csv" in message and expected[case] in message, (case, message)
        assert "root:" not in message
    assert checksums(home) == before


def test_a_huge_value_gives_a_short_message(loaded_home: tuple[Path, dict], tmp_path: Path) -> None:
    home, before = loaded_home
    files = write_good_files(tmp_path / "in")
    _replace("trades_raw.csv", ",100,60,", "," + "9" * 1_000_000 + ",60,")(files)
    message = _one_line_error(run_enrich(home, "load", str(files), check=False))
    assert len(message) < 1_000, message[:2_000]
    assert f"line {_line_of(files, 'trades_raw.csv', b'999999')}" in message and "column shares" in message
    assert "1,000,000 characters" in message
    assert checksums(home) == before


def test_a_bom_before_a_quoted_header_is_accepted(loaded_home: tuple[Path, dict], tmp_path: Path) -> None:
    home, before = loaded_home
    files = write_good_files(tmp_path / "in")
    for name in ("trades_raw.csv", "resolutions.csv"):
        path = files / name
        header, rest = path.read_text().split("\n", 1)
        quoted = ",".join(f'"{column}"' for column in header.split(","))
        path.write_bytes(b"\xef\xbb\xbf" + (quoted + "\n" + rest).encode())
    proc = run_enrich(home, "load", str(files))
    assert any(line.split()[:2] == ["trades_raw", "3"] for line in proc.stdout.splitlines()), proc.stdout
    assert checksums(home) == before


def test_export_to_an_unwritable_path_is_one_line(loaded_home: tuple[Path, dict], tmp_path: Path) -> None:
    home, _ = loaded_home
    for out in ("/proc/self/x.csv", str(tmp_path / "file" / "x.csv")):
        (tmp_path / "file").touch()
        message = _one_line_error(run_enrich(home, "export", "trades_raw", "--out", out, check=False))
        assert message.startswith(f"enrich: {out}: cannot write"), message


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 20 MB file system of its own (tmpfs; needs root, as the test machines run)."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _write_incompressible_trades(directory: Path, rows: int) -> Path:
    """The good dataset with a trades_raw.csv of ROWS random ids: far more than 20 MB, stored."""
    write_good_files(directory)
    header = TRADES.split("\n", 1)[0]
    with (directory / "trades_raw.csv").open("w") as fh:
        fh.write(header + "\n")
        for i in range(rows):
            h = os.urandom(24).hex()
            fh.write(f"{h},0x{h},2025-03-01 01:21:08.552,{WALLET_A},m1,c1,0,BUY,{i}.5,40.05,0\n")
    return directory


@pytest.mark.reliability
def test_disk_full_during_load_or_seed_is_one_line_and_changes_nothing(
        small_disk: Path, tmp_path: Path) -> None:
    home = small_disk / "home"
    run_enrich(home, "load", str(write_good_files(tmp_path / "good")))
    before = checksums(home)

    big = _write_incompressible_trades(tmp_path / "big", 250_000)
    message = _one_line_error(run_enrich(home, "load", str(big), check=False))
    assert f"{home}" in message and "no space left on device" in message, message
    assert checksums(home) == before
    assert _leftover_tables(home) == []

    # A seed into a disk that is already full.
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * (free - 256 * 1024))
    message = _one_line_error(run_enrich(home, "seed", "--scale", "tiny", check=False))
    assert f"{home}" in message and "no space left on device" in message, message
    filler.unlink()
    assert checksums(home) == before
    # With space back, the same home works: no state was left that blocks it.
    run_enrich(home, "seed", "--scale", "tiny")
    assert checksums(home)["trades_raw"][0] > 0
