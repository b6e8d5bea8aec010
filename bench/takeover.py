"""Lease-takeover episodes of `make torture` (issue 23): one warehouse, two runners.

An episode starts runner A (`enrich run`, sometimes `--fresh`) on a `server` warehouse (chDB served
over HTTP by hooks/tests/chdb_http.py, so two processes share it) and pauses it (SIGSTOP, through a
pause point of `enrich.killpoints` drawn at random: partitions replaced, a checkpoint written, a
finalize table created, a phase boundary). Once A's lease has run out (made short through
ENRICH_LOCK_LEASE_SECONDS), runner B runs `enrich run --resume` from another home and takes the
lock over; then A is continued. A must stop (exit 4, the lock was taken over) or, when B had not
yet needed the lock, finish; the tables must equal a `--fresh` uninterrupted run on the same data
and no mart may hold a duplicated row.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LEASE_SECONDS = 2.0
PAUSE_AT = "ENRICH_TEST_PAUSE_AT"
# pause points and how many times each may be reached before it pauses (a tiny run has 5 batches
# a step at batch size 100)
POINTS = {"replaced": 8, "checkpoint": 10, "backup-created": 2, "upstream": 1, "planned": 1,
          "step_completed": 2, "finalized": 1}
GRAIN = {"pnl": "flow_id", "pnl_positions": "(wallet_address, condition_id)",
         "wallet_resolution_outcomes": "(wallet_address, condition_id)", "wallet_accuracy": "wallet_address",
         "wallet_category_accuracy": "(wallet_address, category)"}
CLOCKS = ("pnl", "pnl_positions", "wallet_resolution_outcomes")


@contextmanager
def _server(root: Path) -> Iterator[Any]:
    # the test suite's server double: the bench needs it too, and it is not part of the package
    sys.path.insert(0, str(ROOT / "hooks" / "tests"))
    from server_fixtures import chdb_server

    with chdb_server(root) as server:
        yield server


def _enrich(home: Path, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "enrich", "--home", str(home), "--target", "server",
                                 *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def _figures(server: Any) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Per mart: count and order-independent hash without build clocks; rows beyond the grain."""
    client = server.client()
    try:
        sums, extra = {}, {}
        for name, key in GRAIN.items():
            columns = "* except (computed_at)" if name in CLOCKS else "*"
            row = client.query(f"select count(), sum(cityHash64(tuple(*))) from "
                               f"(select {columns} from polymarket.`{name}`)").result_rows[0]
            sums[name] = [int(row[0]), int(row[1])]
            extra[name] = int(client.query(f"select count() - uniqExact({key}) from polymarket.`{name}`")
                              .result_rows[0][0])
        return sums, extra
    finally:
        client.close()


def episodes(count: int, scale: str, batch_size: str, rng: random.Random, work: Path,
             postgres: str | None) -> list[dict[str, Any]]:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "takeover.log"
    done: list[dict[str, Any]] = []
    with _server(work / "server") as server:
        inherited = ("ENRICH_", "CLICKHOUSE_", "POSTGRES_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
        env |= {**server.env(), "ENRICH_LOCK_LEASE_SECONDS": str(LEASE_SECONDS)}
        if postgres:
            env["POSTGRES_URL"] = postgres
        if _enrich(work / "seeder", "seed", "--scale", scale, env=env, log=log).wait() != 0:
            raise RuntimeError(f"seeding the server failed; see {log}")
        for number in range(1, count + 1):
            started = time.monotonic()
            first = ("--fresh",) if number == 1 else rng.choice([("--fresh",), ()])
            # a --fresh run builds the finalize tables anew: no build table to pause after
            point = rng.choice(sorted(p for p in POINTS if not (first and p == "backup-created")))
            nth = rng.randint(1, POINTS[point])
            a = _enrich(work / f"a{number}", "run", *first, "--batch-size", batch_size,
                        env={**env, PAUSE_AT: f"{point}:{nth}"}, log=log)
            while _state(a.pid) != "T" and a.poll() is None:
                time.sleep(0.05)
            paused = a.poll() is None
            b_code = None
            if paused:
                time.sleep(LEASE_SECONDS + 1)
                b_code = _enrich(work / f"b{number}", "run", "--resume", env=env, log=log).wait()
                a.send_signal(signal.SIGCONT)
            a_code = a.wait()
            after, duplicated = _figures(server)
            fresh_code = _enrich(work / "fresh", "run", "--fresh", "--batch-size", batch_size, env=env,
                                 log=log).wait()
            fresh, _ = _figures(server)
            episode = {"episode": number, "first": " ".join(first) or "(plain run)",
                       "paused_at": f"{point}:{nth}", "paused": paused, "a_exit": a_code, "b_exit": b_code,
                       "fresh_exit": fresh_code, "duplicated_rows": sum(duplicated.values()),
                       "equal": after == fresh and b_code in (None, 0) and not sum(duplicated.values()),
                       "mismatched": [t for t in fresh if fresh[t] != after[t]],
                       "seconds": round(time.monotonic() - started, 1)}
            done.append(episode)
            print(f"takeover {number}: paused at {point}:{nth} ({'paused' if paused else 'not reached'}), "
                  f"A exit {a_code}, B exit {b_code}, equal {episode['equal']}, "
                  f"duplicated {episode['duplicated_rows']}", flush=True)
    return done
