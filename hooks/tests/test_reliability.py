"""Reliability: SIGKILL anywhere, SIGINT, Postgres away, bad input, hostile ids, secrets.

test_runner.py already covers SIGKILL at fixed points, SIGTERM, a second runner, a stale lock,
a Postgres connection cut mid-run, a damaged state file without Postgres (and with it, on
--resume) and Postgres unreachable at the start; test_loader.py and test_models_d.py cover parse
errors and the quarantine reasons one by one. This file fills the gaps between them and runs
everything end to end through the `enrich` command, as operators run it.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from bench import torture
from conftest import PROJECT_DIR, enrich_env, run_enrich, state_file
from psycopg import sql
from reliability import (
    DB,
    LEFTOVERS_SQL,
    RESULT_TABLES,
    STEP_D_TABLES,
    ask,
    checksum_sql,
    state,
)

from enrich.checkpoints import JOB
from enrich.errors import ExitCode
from enrich.killpoints import ENV as KILL_AT
from enrich.locks import RunLock

pytestmark = pytest.mark.reliability

SOURCE_TABLES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")
INJECTION = "x' OR 1=1 --"
PG_SECRET = "pg-Secret-7f3a9c"
CH_SECRET = "ch-Secret-4b8e21"


# --- helpers ----------------------------------------------------------------------------------------

def with_password(url: str, password: str) -> str:
    """The test database's URL with a password in it (trust auth ignores it; the code must hide it)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


def ledger(url: str, run_id: str) -> dict[str, list[tuple[int, int, int, int]]]:
    """step -> (batch_idx, key_lo, key_hi, pairs) of the run's ledger rows, in batch order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("select step, batch_idx, key_lo, key_hi, pairs from ops_batch_ledger"
                            " where run_id = %s order by step, batch_idx", [run_id]).fetchall()
    out: dict[str, list[tuple[int, int, int, int]]] = {}
    for step, *rest in rows:
        out.setdefault(step, []).append(tuple(rest))
    return out


def postgres_text(url: str) -> str:
    """Everything the job wrote to Postgres, as text: where a leaked secret would show up."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'")]
        return "\n".join(str(conn.execute(sql.SQL("select * from {}").format(sql.Identifier(t))).fetchall())
                         for t in tables)


def files_containing(root: Path, needle: str) -> list[str]:
    """Every file under ROOT (logs, checkpoints, dbt artifacts, the database) holding NEEDLE."""
    raw = needle.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and raw in p.read_bytes()]


# --- 2-4. SIGINT, a damaged checkpoint with Postgres, a killed --fresh, --local-checkpoints-only ---

def test_sigint_stops_after_a_committed_batch_and_nothing_is_half_counted(
        seeded: tuple[Path, dict[str, list]], own_pg: str, tmp_path: Path) -> None:
    home, reference = seeded
    url = with_password(own_pg, PG_SECRET)
    env = enrich_env(POSTGRES_URL=url)
    log = tmp_path / "runs.log"
    outputs: list[str] = []
    run = ("run", "--step", "D", "--batch-size", "20")

    before = state(home)
    proc = torture.start(home, *run, "--fresh", env=env, log=log)
    deadline = time.monotonic() + 180
    while (cp := state(home)) is None or cp == before or len(cp.ranges_done("D")) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == ExitCode.INTERRUPTED, log.read_text()
    stopped = state(home)
    assert stopped is not None and stopped.status == "stopped" and stopped.step == "D"
    assert len(stopped.ranges_done("D")) >= 2
    rows = ledger(own_pg, stopped.run_id)["D"]
    # the ledger holds exactly the committed batches: none in flight, none missing, none twice
    assert [list(b[1:3]) for b in rows] == stopped.ranges_done("D")
    assert sum(b[3] for b in rows) == stopped.pairs_done("D")
    with psycopg.connect(own_pg) as conn:
        assert conn.execute("select status, batches_done, run_id from ops_run_checkpoints where job = %s",
                            [JOB]).fetchone() == ("stopped", len(stopped.ranges_done("D")), stopped.run_id)
    console = (home / f"{JOB}.console.log").read_text()
    assert "SIGINT received" in console and "continue with `enrich run --resume`" in console
    assert not (home / f"{JOB}.pid").exists()

    # a damaged state file with a Postgres checkpoint: a plain run refuses and names both ways on
    path = state_file(home)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    refused = run_enrich(home, *run, env=env, check=False)
    outputs += [refused.stdout, refused.stderr]
    assert refused.returncode == ExitCode.ERROR and "Traceback" not in refused.stderr
    assert str(path) in refused.stderr and "--resume" in refused.stderr and "--fresh" in refused.stderr
    assert path.read_bytes() == good[: len(good) // 2]  # nothing restarted, nothing overwritten
    path.write_bytes(good)

    # --fresh killed at its first checkpoint write: the stopped run's checkpoint is all that is on
    # disk, so a --resume continues that run and ends with every partition built
    killed = subprocess.run([sys.executable, "-m", "enrich", "--home", str(home), *run, "--fresh"],
                            cwd=PROJECT_DIR, env={**env, KILL_AT: "checkpoint:1"}, capture_output=True,
                            text=True, timeout=300)
    outputs += [killed.stdout, killed.stderr]
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    # Postgres is down now: --local-checkpoints-only goes on deliberately from the local file,
    # and the ledger rows it commits wait in the state file for Postgres
    down = enrich_env(POSTGRES_URL=f"postgresql://ops:{PG_SECRET}@127.0.0.1:1/enrich")
    resumed = run_enrich(home, *run, "--resume", "--local-checkpoints-only", env=down)
    outputs += [resumed.stdout, resumed.stderr]
    assert "127.0.0.1:1/enrich disabled (--local-checkpoints-only)" in resumed.stdout
    assert f"resuming {stopped.run_id}" in resumed.stdout
    final = state(home)
    assert final is not None and final.status == "complete" and final.pairs_done("D") == final.total_pairs
    queued = [(r["key_lo"], r["key_hi"]) for r in final.pg_pending]
    assert queued and queued == [tuple(r) for r in final.ranges_done("D")[len(stopped.ranges_done("D")):]]
    found = ask(home, {"leftovers": LEFTOVERS_SQL, **{t: checksum_sql(t) for t in STEP_D_TABLES}})
    assert found.pop("leftovers") == []
    assert {t: rows[0] for t, rows in found.items()} == {t: reference[t] for t in STEP_D_TABLES}

    # Postgres back: the next run sends the queued rows, and the checkpoint row ends complete
    caught_up = run_enrich(home, *run, "--resume", env=env)
    outputs += [caught_up.stdout, caught_up.stderr]
    rows = ledger(own_pg, final.run_id)["D"]
    assert [list(b[1:3]) for b in rows] == final.ranges_done("D")
    assert state(home).pg_pending == []
    with psycopg.connect(own_pg) as conn:
        statuses = conn.execute("select status from ops_run_checkpoints where job = %s", [JOB]).fetchall()
    assert statuses == [("complete",)]

    # the Postgres password reached no log, checkpoint, ledger, dbt file or message
    for secret in (PG_SECRET,):
        assert files_containing(home, secret) == []
        assert secret not in log.read_text() and not any(secret in text for text in outputs)
        assert secret not in postgres_text(own_pg)


# --- 4b. a stop that stops (issue 22): the first signal's estimate, the second signal's cancel ------

STOP_RUN = ("run", "--step", "D", "--batch-size", "60")


def wait_for_batches(home: Path, proc: subprocess.Popen[bytes], log: Path, count: int,
                     before: object) -> None:
    """Until the run started in PROC has committed COUNT batches of step D to a new checkpoint."""
    deadline = time.monotonic() + 240
    while (cp := state(home)) is None or cp == before or len(cp.ranges_done("D")) < count:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def outside_committed(home: Path, ranges: list[list[int]]) -> dict[str, int]:
    """Per Step D mart, its rows outside the committed key RANGES."""
    inside = " or ".join(f"batch_key between {lo} and {hi}" for lo, hi in ranges)
    found = ask(home, {t: f"select count() from {DB}.{t} where not ({inside})" for t in STEP_D_TABLES})
    return {t: rows[0][0] for t, rows in found.items()}


def test_first_signal_says_how_long_and_the_batch_in_flight_is_checkpointed(
        seeded: tuple[Path, dict[str, list]], tmp_path: Path) -> None:
    home, reference = seeded
    log = tmp_path / "run.log"
    before = state(home)
    # the third batch's own statement sleeps 8 s in the engine: the signal lands inside it
    proc = torture.start(home, *STOP_RUN, "--fresh", log=log,
                         env=enrich_env(ENRICH_TEST_STALL_AT="batch:3:8"))
    try:
        wait_for_batches(home, proc, log, 2, before)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == ExitCode.INTERRUPTED, log.read_text()
    finally:
        proc.kill()
    stopped = state(home)
    # the batch in flight finished and was checkpointed, and no batch after it started
    assert stopped is not None and stopped.status == "stopped" and len(stopped.ranges_done("D")) == 3
    console = log.read_text()
    assert re.search(r"SIGINT received: stopping after the batch in flight \(step D batch 3/\d+\b[^)]*"
                     r"started \d+ s ago[^)]*\); press Ctrl-C again to cancel it", console), console
    assert "continue with `enrich run --resume`" in console

    resumed = run_enrich(home, *STOP_RUN, "--resume")
    assert f"resuming {stopped.run_id}" in resumed.stdout
    found = ask(home, {"leftovers": LEFTOVERS_SQL, **{t: checksum_sql(t) for t in STEP_D_TABLES}})
    assert found.pop("leftovers") == []
    assert {t: rows[0] for t, rows in found.items()} == {t: reference[t] for t in STEP_D_TABLES}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_second_signal_kills_the_batch_in_flight_and_the_resume_converges(
        seeded: tuple[Path, dict[str, list]], own_pg: str, tmp_path: Path, signum: signal.Signals) -> None:
    home, reference = seeded
    env = enrich_env(POSTGRES_URL=own_pg)
    log = tmp_path / "run.log"
    before = state(home)
    # the third batch's own statement would sleep 600 s in the engine: only a kill ends it early
    proc = torture.start(home, *STOP_RUN, "--fresh", log=log,
                         env={**env, "ENRICH_TEST_STALL_AT": "batch:3:600"})
    try:
        wait_for_batches(home, proc, log, 2, before)
        # well into the third batch's statement (the batches before it took about 2 s each)
        time.sleep(5)
        proc.send_signal(signum)
        time.sleep(1)
        cancelled_at = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(timeout=20)
        took = time.monotonic() - cancelled_at
    finally:
        proc.kill()
    expected = ExitCode.INTERRUPTED if signum == signal.SIGINT else ExitCode.TERMINATED
    console = log.read_text()
    assert code == expected and took < 20, (code, took, console)
    name = signal.Signals(signum).name
    assert f"{name} received again: cancelling the work in flight" in console, console
    # the engine's query was killed: the batch did not end, or fail, on its own
    assert re.search(r"killed \d+ engine quer(y|ies) in flight", console), console
    assert "cancelled: step D batch 3 was cancelled" in console, console

    # the checkpoint is intact: the two batches before, not the cancelled one, here and in Postgres
    stopped = state(home)
    assert stopped is not None and stopped.status == "stopped" and stopped.step == "D"
    committed = stopped.ranges_done("D")
    assert len(committed) == 2 and committed == [list(r[:2]) for r in stopped.plan[:2]]
    assert [list(b[1:3]) for b in ledger(own_pg, stopped.run_id)["D"]] == committed
    with psycopg.connect(own_pg) as conn:
        assert conn.execute("select status, batches_done from ops_run_checkpoints where job = %s",
                            [JOB]).fetchone() == ("stopped", 2)
    # nothing of the cancelled batch reached the marts (--fresh dropped them: only the committed
    # ranges hold rows); its staging table is left for the resume to drop
    assert outside_committed(home, committed) == dict.fromkeys(STEP_D_TABLES, 0)

    resumed = run_enrich(home, *STOP_RUN, "--resume", env=env)
    assert f"resuming {stopped.run_id}" in resumed.stdout
    assert state(home).status == "complete"
    found = ask(home, {"leftovers": LEFTOVERS_SQL, **{t: checksum_sql(t) for t in STEP_D_TABLES}})
    assert found.pop("leftovers") == []
    assert {t: rows[0] for t, rows in found.items()} == {t: reference[t] for t in STEP_D_TABLES}


# --- 5. the lock's pid file -----------------------------------------------------------------------

def test_pid_file_is_advisory_and_the_flock_decides(tmp_path: Path) -> None:
    """A pid file left by a crash may name a pid reused by an unrelated live process, or hold
    garbage: neither may block a runner (the kernel's flock is the lock) or be reported as a
    takeover of a dead runner."""
    pid_file = tmp_path / f"{JOB}.pid"
    for content in (f"{os.getppid()}\n", "not a pid\n", ""):
        pid_file.write_text(content)
        lock = RunLock(tmp_path, JOB)
        assert lock.acquire() is None
        assert pid_file.read_text().strip() == str(os.getpid())
        lock.release()
        assert not pid_file.exists()


# --- 6-7. bad input at load and at run, hostile ids -----------------------------------------------

W1, W2, W3, W4 = ("0x" + digit * 40 for digit in "1234")
T = "2025-03-01 00:00:00.000"
AFTER = "2025-05-01 00:00:00.000"
RESOLVED = "2025-04-02 00:00:00.000"
NON_UTF8_ID = b"t\xff\xfe-\xe9"
BIG_ID = "T" + "ab" * 5_000_000  # a 10 MB trade id
USED = "used"
COLLAPSED = "collapsed"


def trade(tid: str | bytes, wallet: str, market: str, condition: str, outcome: int, side: str, shares: str,
          usd: str, fee: str = "0", at: str = T) -> list:
    return [tid, "0xtx", at, wallet, market, condition, str(outcome), side, shares, usd, fee]


def event(eid: str, market: str, condition: str, outcome: int, kind: str, shares: str, usd: str,
          at: str = T) -> list:
    return [eid, at, W3, market, condition, str(outcome), kind, shares, usd]


# every row with its fate: used in the P&L, collapsed into an identical copy, or its quarantine reason
TRADES = [
    (trade("v1", W1, "m1", "c1", 0, "BUY", "100", "40"), USED),
    (trade("v2", W2, "m1", "c1", 1, "BUY", "100", "60"), USED),
    (trade("v3", W1, "m2", "c2", 2, "BUY", "10", "5", "0.1"), USED),
    (trade("v4", W2, "m2", "c2", 2, "SELL", "10", "5", "0.1"), USED),
    (trade("v5", W3, "m3", "c3", 0, "BUY", "10", "3"), USED),
    (trade(INJECTION, W3, INJECTION, "cI", 1, "BUY", "10", "4"), USED),
    (trade("vi2", W4, INJECTION, "cI", 1, "SELL", "10", "4"), USED),
    (trade(NON_UTF8_ID, W1, "m3", "c3", 1, "BUY", "1", "0.5"), USED),
    (trade(BIG_ID, W2, "m3", "c3", 1, "BUY", "2", "1"), USED),
    (trade("v_badlen", W1, "m4", "c4", 0, "BUY", "10", "5"), USED),
    (trade("v_zero", W1, "m5", "c5", 0, "BUY", "10", "5"), USED),
    (trade("dup", W4, "m3", "c3", 0, "BUY", "5", "1"), USED),
    (trade("dup", W4, "m3", "c3", 0, "BUY", "5", "1"), COLLAPSED),
    (trade("dup", W4, "m3", "c3", 0, "BUY", "5", "1"), COLLAPSED),
    (trade("conf", W4, "m1", "c1", 0, "BUY", "5", "1"), "duplicate trade_id with different content"),
    (trade("conf", W4, "m1", "c1", 0, "BUY", "5", "2"), "duplicate trade_id with different content"),
    (trade("", W1, "m1", "c1", 0, "BUY", "1", "0.5"), "empty trade_id"),
    (trade("e_wallet", "", "m1", "c1", 0, "BUY", "1", "0.5"), "empty wallet_address"),
    (trade("e_market", W1, "", "c1", 0, "BUY", "1", "0.5"), "empty market_id"),
    (trade("e_cond", W1, "m1", "", 0, "BUY", "1", "0.5"), "empty condition_id"),
    (trade("b_shares", W1, "m1", "c1", 0, "BUY", "0", "0"), "shares <= 0"),
    (trade("b_price", W1, "m1", "c1", 0, "BUY", "10", "15"), "price outside [0, 1]"),
    (trade("b_outcome", W1, "m1", "c1", 2, "BUY", "10", "5"), "outcome_index >= outcome_count"),
    (trade("b_late", W1, "m1", "c1", 0, "BUY", "10", "5", at=AFTER), "fill after the condition resolved"),
]
EVENTS = [
    (event("s1-0", "m1", "c1", 0, "SPLIT", "10", "5"), USED),
    (event("s1-1", "m1", "c1", 1, "SPLIT", "10", "5"), USED),
    (event("e_zero", "m1", "c1", 0, "MERGE", "0", "0"), "shares <= 0"),
    # a split after the resolution is valid (docs/domain.md section 7): a complete set for 1 USD
    (event("e_late-0", "m1", "c1", 0, "SPLIT", "1", "0.5", at=AFTER), USED),
    (event("e_late-1", "m1", "c1", 1, "SPLIT", "1", "0.5", at=AFTER), USED),
    # ... a redeem before it is not
    (event("r_early", "m1", "c1", 0, "REDEEM", "1", "1"), "redeem before the condition resolved"),
]
MARKETS = [
    ["m1", "c1", "q1", "cat", "2", "['Yes','No']", T],
    ["m2", "c2", "q2", "cat", "3", "['A','B','C']", T],
    ["m3", "c3", "q3", "cat", "2", "['Yes','No']", T],
    [INJECTION, "cI", "'); drop table pnl; --", "cat", "2", "['Yes','No']", T],
    ["m4", "c4", "q4", "cat", "2", "['Yes','No']", T],
    ["m5", "c5", "q5", "cat", "2", "['Yes','No']", T],
]
RESOLUTIONS = [
    (["c1", "[1,0]", RESOLVED], USED),
    (["c2", "[0,0,1]", RESOLVED], USED),
    (["cI", "[0,1]", RESOLVED], USED),
    (["c4", "[1,0,0]", RESOLVED], "payout vector length differs from outcome_count"),
    (["c5", "[0,0]", RESOLVED], "payout vector sums to 0"),
    (["c_unknown", "[1,0]", RESOLVED], "resolution of an unknown condition"),
]
HEADERS = {
    "trades_raw": "trade_id,tx_hash,block_time,wallet_address,market_id,condition_id,outcome_index,side,"
                  "shares,usd_value,fee_usd",
    "ctf_events": "event_id,block_time,wallet_address,market_id,condition_id,outcome_index,event_type,"
                  "shares,usd_value",
    "markets_dim": "market_id,condition_id,question,category,outcome_count,outcome_labels,end_date",
    "resolutions": "condition_id,payout_numerators,resolved_at",
}
# Realized P&L by hand (docs/domain.md section 3); None: unresolved or its resolution quarantined.
# c1 YES wins: W1 100 YES for 40 -> +60; W2 100 NO for 60 -> -60; W3 split 10 sets for 10, and one
# more set for 1 after the resolution -> 0 (a complete set is worth what it cost).
# c2 outcome 2 wins: W1 10 for 5 + 0.1 fee -> 10 - 5.1; W2 sold them short for 5 - 0.1 -> -10 + 4.9.
# cI NO wins: W3 10 NO for 4 -> +6, W4 sold them short -> -6. Condition ids are hex, so they are
# lower-cased when staged (section 7): the results name it ci.
EXPECTED_PNL = {
    (W1, "c1"): Decimal(60), (W2, "c1"): Decimal(-60), (W3, "c1"): Decimal(0),
    (W1, "c2"): Decimal("4.9"), (W2, "c2"): Decimal("-5.1"),
    (W3, "ci"): Decimal(6), (W4, "ci"): Decimal(-6),
    (W1, "c3"): None, (W2, "c3"): None, (W3, "c3"): None, (W4, "c3"): None,
    (W1, "c4"): None, (W1, "c5"): None,
}
# Step E: held at resolution; W3 holds 10 YES and 10 NO of c1 (a tie: push); short sellers are flat
EXPECTED_OUTCOMES = {(W1, "c1", "won"), (W2, "c1", "lost"), (W3, "c1", "push"), (W1, "c2", "won"),
                     (W3, "ci", "won")}


def csv_field(value: str | bytes) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode()
    return b'"' + raw.replace(b'"', b'""') + b'"'


def csv_rows(rows: list[list]) -> bytes:
    return b"".join(b",".join(csv_field(v) for v in row) + b"\n" for row in rows)


def write_dataset(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tables = {"trades_raw": [r for r, _ in TRADES], "ctf_events": [r for r, _ in EVENTS],
              "markets_dim": MARKETS, "resolutions": [r for r, _ in RESOLUTIONS]}
    for name, rows in tables.items():
        (directory / f"{name}.csv").write_bytes(HEADERS[name].encode() + b"\n" + csv_rows(rows))
    return directory


def fates(rows: list[tuple[list, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, fate in rows:
        counts[fate] = counts.get(fate, 0) + 1
    return counts


def state_sql() -> dict[str, str]:
    """Checksums of every source and result table: a bad load or a hostile id must change none."""
    return {t: checksum_sql(t) for t in (*SOURCE_TABLES, *RESULT_TABLES)}


# a NULL written the CSV way (\N) where the contract has none, one per column kind
NULL_CASES = [
    ("trades_raw.csv", trade("n1", W1, "m1", "c1", 0, "BUY", "1", "0.5"), 0, "trade_id"),
    ("resolutions.csv", ["c9", "[1,0]", RESOLVED], 1, "payout_numerators"),
]


def test_bad_input_is_named_or_quarantined_and_every_row_is_accounted_for(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = write_dataset(tmp_path / "in")
    loaded = run_enrich(home, "load", str(files))
    assert ["trades_raw", str(len(TRADES)), "rows"] in [line.split() for line in loaded.stdout.splitlines()]
    ran = run_enrich(home, "run")  # gates: the quarantine is a warning, nothing fails
    # the gates count every quarantined row where the operator looks
    quarantined = sum(fate not in (USED, COLLAPSED) for _, fate in (*TRADES, *EVENTS, *RESOLUTIONS))
    gate = [line.split() for line in ran.stdout.splitlines() if "quarantine_summary" in line]
    assert [g[-1] for g in gate] == [str(quarantined)], ran.stdout

    found = ask(home, {
        "used": f"select if(flow_type in ('BUY', 'SELL'), 'trades_raw', 'ctf_events'), count() from {DB}.pnl"
                " group by 1",
        "quarantine": f"select source_table, action, reason, count() from {DB}.quarantine group by all",
        "pair_pnl": f"select wallet_address, condition_id, toString(realized_pnl_usd)"
                    f" from {DB}.pnl_positions",
        "outcomes": f"select wallet_address, condition_id, result from {DB}.wallet_resolution_outcomes",
        # odd ids are data, kept byte for byte: non-UTF-8, 10 MB, SQL in an id
        "odd_ids": "select countIf(flow_id = unhex({odd:String})),"
                   " countIf(flow_id = {injection:String} and market_id = {injection:String}),"
                   f" countIf(hex(MD5(flow_id)) = {{big_md5:String}}) from {DB}.pnl",
        "injected": f"select count() from {DB}.pnl_positions where market_id = {{injection:String}}",
        **state_sql(),
    }, {"odd": NON_UTF8_ID.hex(), "injection": INJECTION,
        "big_md5": hashlib.md5(BIG_ID.encode()).hexdigest().upper()})
    used = dict(found["used"])
    quarantine = found["quarantine"]
    for table, rows in (("trades_raw", TRADES), ("ctf_events", EVENTS), ("resolutions", RESOLUTIONS)):
        expected = fates(rows)
        got_collapsed = sum(n for t, action, _, n in quarantine if t == table and action == "collapsed")
        got_quarantined = sum(n for t, action, _, n in quarantine if t == table and action == "quarantined")
        assert got_collapsed == expected.get(COLLAPSED, 0), (table, quarantine)
        for reason, count in expected.items():
            if reason not in (USED, COLLAPSED):
                hits = sum(n for t, action, why, n in quarantine
                           if t == table and action == "quarantined" and reason in why)
                assert hits == count, (table, reason, quarantine)
        assert got_quarantined == len(rows) - expected[USED] - expected.get(COLLAPSED, 0), (table, quarantine)
        if table != "resolutions":
            # rows in = rows used (in pnl) + rows quarantined + identical copies collapsed
            assert used[table] == expected[USED], (table, used)
            assert len(rows) == used[table] + got_quarantined + got_collapsed
    assert {(w, c): None if p is None else Decimal(p) for w, c, p in found["pair_pnl"]} == EXPECTED_PNL
    assert {tuple(r) for r in found["outcomes"]} == EXPECTED_OUTCOMES
    assert found["odd_ids"] == [[1, 1, 1]]
    assert found["injected"] == [[2]]
    before = {t: found[t][0] for t in (*SOURCE_TABLES, *RESULT_TABLES)}

    # the P&L exported keeps the odd ids intact
    out = tmp_path / "pnl.csv"
    run_enrich(home, "export", "pnl", "--out", str(out))
    exported = out.read_bytes()
    assert NON_UTF8_ID in exported and BIG_ID.encode() in exported and INJECTION.encode() in exported

    # a NULL (\N) at load: an error naming file, line and column, and nothing loaded
    for name, row, column_index, column in NULL_CASES:
        bad = write_dataset(tmp_path / f"null-{column}")
        path = bad / name
        data = path.read_bytes()
        line = data.count(b"\n") + 1
        fields = [b"\\N" if i == column_index else csv_field(v) for i, v in enumerate(row)]
        path.write_bytes(data + b",".join(fields) + b"\n")
        proc = run_enrich(home, "load", str(bad), check=False)
        assert proc.returncode == ExitCode.ERROR and "Traceback" not in proc.stderr, proc.stderr
        assert f"enrich: {name}: line {line}, column {column}:" in proc.stderr, proc.stderr

    # hostile ids on the command line are names or bound values, never SQL
    export = run_enrich(home, "export", INJECTION, "--out", str(tmp_path / "x.csv"), check=False)
    assert export.returncode == ExitCode.ERROR and f"no table or view named {INJECTION!r}" in export.stderr
    assert not (tmp_path / "x.csv").exists()
    rebuilt = run_enrich(home, "reset", "--market", INJECTION)  # a real market of this dataset
    assert "rebuilt batch key" in rebuilt.stdout
    after = ask(home, state_sql())
    assert {t: rows[0] for t, rows in after.items()} == before


# --- 8. secrets -----------------------------------------------------------------------------------

def test_passwords_from_env_local_never_reach_logs_checkpoints_or_messages(tmp_path: Path,
                                                                          own_pg: str) -> None:
    home = tmp_path / "home"
    cwd = tmp_path / "operator"
    cwd.mkdir()
    (cwd / ".env.local").write_text(
        "CLICKHOUSE_HOST=127.0.0.1\nCLICKHOUSE_PORT=1\nCLICKHOUSE_USER=enrich\n"
        f"CLICKHOUSE_PASSWORD={CH_SECRET}\nPOSTGRES_URL={with_password(own_pg, PG_SECRET)}\n")
    data = write_dataset(tmp_path / "in")
    outputs = []
    for args in (("run", "--step", "D"), ("export", "pnl", "--out", str(tmp_path / "p.csv")),
                 ("load", str(data)), ("gates",)):
        proc = subprocess.run([sys.executable, "-m", "enrich", "--home", str(home), "--target", "server",
                               *args], cwd=cwd, env=enrich_env(), capture_output=True, text=True, timeout=300)
        outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode == ExitCode.ERROR, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        assert "enrich: " in proc.stderr and "127.0.0.1" in proc.stdout + proc.stderr, (args, proc.stderr)
    assert "cannot connect to the ClickHouse server 127.0.0.1:1" in outputs[0]
    # the run got as far as Postgres before the warehouse refused: the password URL was used
    assert "applied migrations 001_ops_checkpoints.sql, 002_run_checkpoints_per_warehouse.sql" in outputs[0]
    for secret in (CH_SECRET, PG_SECRET):
        assert not any(secret in text for text in outputs), secret
        assert files_containing(home, secret) == [], secret
        assert secret not in postgres_text(own_pg)
