"""`make torture`: SIGKILL the runner at random moments, restart only with `enrich run --resume`,
load value corrections and appended trades between kills, and check after every episode that the
four result tables equal a fresh uninterrupted run on the same data.

    python -m bench.torture --kills 100 --scale reference
    python -m bench.torture --kills 0 --takeovers 4      # lease-takeover episodes only (bench/takeover.py)

An episode starts a run (`--fresh`, `--changed` or a plain `enrich run`), kills it at random
moments (a timer, or a kill point of `enrich.killpoints`: a checkpoint written but not renamed,
partitions replaced but not checkpointed, a phase boundary) and repeats `enrich run --resume`
until it finishes; then the tables are checksummed, a `--fresh` run is made on the same data and
the checksums compared. The summary (kills, where each landed, episodes, mismatches) goes to
bench/torture.json. The test suite runs the same machinery briefly (test_reliability.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT_TABLES = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")
KILL_AT = "ENRICH_TEST_KILL_AT"
# kill points of enrich.killpoints: reached the n-th time, the process kills itself
HOOKS = ("checkpoint", "replaced", "parsed", "upstream", "planned", "step_completed", "finalized", "gates")
# A fee correction of one fill: it changes two pairs' P&L but keeps every market balanced (P&L plus
# fees is unchanged), so the gates still pass.
FEE_CORRECTION = ("alter table polymarket.trades_raw update fee_usd = fee_usd + {delta:Decimal(38, 6)}"
                  " where trade_id = (select trade_id from polymarket.trades_raw"
                  " order by cityHash64(trade_id, {salt:UInt64}) limit 1)")
# Two new matched fills on an existing resolved condition, before its resolution: one wallet
# buys what another sells, so the market stays balanced.
APPEND_FILLS = """
insert into polymarket.trades_raw
select concat(trade_id, '-appended-', toString({salt:UInt64}), '-', toString(leg)), tx_hash,
       block_time, if(leg = 0, wallet_address, seller), market_id, condition_id, outcome_index,
       if(leg = 0, 'BUY', 'SELL'), shares, usd_value, 0
from (select * from polymarket.trades_raw where side = 'BUY' order by cityHash64(trade_id, {salt:UInt64})
      limit 1) as fill
cross join (select any(wallet_address) as seller from polymarket.trades_raw) as other
array join [0, 1] as leg
"""


@dataclass
class Attempt:
    how: str
    flags: tuple[str, ...]
    killed: bool
    where: str


def enrich_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENRICH_", "CLICKHOUSE_", "POSTGRES_"))}
    env.pop("BATCH_SIZE", None)
    return env | extra


def start(home: Path, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "enrich", "--home", str(home), *args],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def console_lines(home: Path, offset: int) -> list[str]:
    path = home / "full-enrichment.console.log"
    if not path.exists():
        return []
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace").splitlines()


def console_size(home: Path) -> int:
    path = home / "full-enrichment.console.log"
    return path.stat().st_size if path.exists() else 0


def next_kill(rng: random.Random, batch_seconds: float = 4.0) -> tuple[str, float]:
    """A timed kill (`startup` from the start, `batch` after the batches began) or a kill point."""
    draw = rng.random()
    if draw < 0.15:
        return "startup", rng.uniform(0.5, 6.0)
    if draw < 0.3:
        return "checkpoint", rng.randint(1, 8)
    if draw < 0.45:
        return "replaced", rng.randint(1, 6)
    if draw < 0.6:
        return rng.choice(HOOKS[2:]), 1
    return "batch", rng.uniform(0.0, batch_seconds)


def crash_once(home: Path, env: dict[str, str], args: tuple[str, ...], kind: str, value: float,
               log: Path, describe: Callable[[Path], str] = lambda home: "") -> Attempt:
    """Run `enrich run ARGS` and kill it as KIND says; the run may also finish first."""
    offset = console_size(home)
    hook = kind in HOOKS
    how = f"{kind}:{int(value)}" if hook else f"{kind} +{value:.1f}s"
    proc = start(home, "run", *args, env={**env, KILL_AT: how} if hook else env, log=log)
    try:
        if hook:
            proc.wait(timeout=1800)
        elif kind == "startup":
            try:
                proc.wait(timeout=value)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        else:
            deadline = time.monotonic() + 600
            while proc.poll() is None and not any(line.split(" ", 1)[-1].startswith("plan: ")
                                                  for line in console_lines(home, offset)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the batches never began; see {log}")
                time.sleep(0.05)
            time.sleep(value)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    # 0: done; 1: done, a gate failed; anything else but a kill is a bug of the runner
    if proc.returncode not in (0, 1, -signal.SIGKILL):
        raise RuntimeError(f"{how}: enrich run {' '.join(args)} exited {proc.returncode}; see {log}")
    logged = console_lines(home, offset)
    last = logged[-1].split(" ", 1)[-1] if logged else "(nothing logged)"
    return Attempt(how, args, proc.returncode == -signal.SIGKILL, f"{describe(home)}last line: {last[:80]}")


_SQL = """
import json, sys
from enrich.config import Config
from enrich.warehouse import connect, resolve_target
client = connect(resolve_target(Config.from_env(home=sys.argv[1])))
out = []
for statement, parameters in json.loads(sys.argv[2]):
    if statement.lstrip().lower().startswith(("alter", "insert")):
        client.command(statement, parameters=parameters, settings={"mutations_sync": 2})
        out.append([])
    else:
        out.append([list(r) for r in client.query(statement, parameters=parameters).result_rows])
print(json.dumps(out, default=str))
"""


def sql(home: Path, *statements: tuple[str, dict]) -> list[list[list]]:
    """Statements against HOME's warehouse in one short-lived process (one engine open for all)."""
    proc = subprocess.run([sys.executable, "-c", _SQL, str(home), json.dumps(statements)], cwd=ROOT,
                          env=enrich_env(), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)


def checksums(home: Path, tables: tuple[str, ...] = RESULT_TABLES) -> dict[str, list]:
    """Count and order-independent hash of each table, without build timestamps."""
    found = sql(home, *((f"select count(), sum(cityHash64(tuple(*))) from (select * except (computed_at)"
                         f" from polymarket.{name})" if name != "wallet_accuracy" else
                         f"select count(), sum(cityHash64(tuple(*))) from polymarket.{name}", {})
                        for name in tables))
    return {name: rows[0] for name, rows in zip(tables, found, strict=True)}


def correct_fee(home: Path, salt: int) -> None:
    sql(home, (FEE_CORRECTION, {"delta": "1.4976", "salt": salt}))


def append_fills(home: Path, salt: int) -> None:
    sql(home, (APPEND_FILLS, {"salt": salt}))


def converge(home: Path, env: dict[str, str], rng: random.Random, first: tuple[str, ...], kills: int,
             log: Path, batch_size: str, between: Callable[[int], None] = lambda n: None) -> list[Attempt]:
    """Start `enrich run FIRST`, kill it KILLS times at random moments, restarting only with
    --resume (BETWEEN(n) runs after the n-th kill), then --resume once more to the end."""
    attempts: list[Attempt] = []
    args = first
    while sum(a.killed for a in attempts) < kills:
        if len(attempts) > 3 * kills + 3:
            raise RuntimeError("the runs keep finishing before the kills land")
        kind, value = next_kill(rng)
        attempt = crash_once(home, env, ("--batch-size", batch_size, *args), kind, value, log)
        attempts.append(attempt)
        if attempt.killed:
            between(sum(a.killed for a in attempts))
        args = ("--resume",)
    final = start(home, "run", "--batch-size", batch_size, "--resume", env=env, log=log)
    if final.wait() not in (0, 1):
        raise RuntimeError(f"the last --resume failed; see {log}")
    return attempts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.torture", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--scale", default="reference", choices=["tiny", "reference"])
    parser.add_argument("--per-episode", type=int, default=5, help="kills per episode")
    parser.add_argument("--batch-size", default="8000")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "work" / "torture")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "torture.json")
    parser.add_argument("--takeovers", type=int, default=0,
                        help="lease-takeover episodes on a server warehouse (bench/takeover.py)")
    parser.add_argument("--takeover-scale", default="tiny", choices=["tiny", "reference"])
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    if args.takeovers:
        code = run_takeovers(args, rng)
        if code or not args.kills:
            return code
    home, log = args.home, args.home.parent / "torture.log"
    home.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "enrich", "--home", str(home), "seed", "--scale", args.scale],
                   cwd=ROOT, env=enrich_env(), check=True, capture_output=True)
    url = os.environ.get("POSTGRES_URL")
    env = enrich_env(**({"POSTGRES_URL": url} if url else {}))
    episodes, attempts, started = [], [], time.monotonic()
    while sum(a.killed for a in attempts) < args.kills:
        number = len(episodes) + 1
        first = rng.choice([("--fresh",), ("--changed",), ()])
        changes: list[str] = []

        def between(kill: int, changes: list[str] = changes, number: int = number) -> None:
            # data arrives between kills in some episodes: a correction, or new fills
            if kill == 2 and number % 2 == 0:
                correct_fee(home, number)
                changes.append("fee correction")
            if kill == 3 and number % 3 == 0:
                append_fills(home, number)
                changes.append("appended fills")

        kills = min(args.per_episode, args.kills - sum(a.killed for a in attempts))
        ran = converge(home, env, rng, first, kills, log, args.batch_size, between)
        attempts += ran
        resumed = checksums(home)
        subprocess.run([sys.executable, "-m", "enrich", "--home", str(home), "run", "--fresh"], cwd=ROOT,
                       env=env, check=False, capture_output=True)
        fresh = checksums(home)
        episodes.append({"episode": number, "first": " ".join(first) or "(plain run)", "changes": changes,
                         "kills": sum(a.killed for a in ran), "attempts": [asdict(a) for a in ran],
                         "equal": resumed == fresh,
                         "mismatched": [t for t in fresh if fresh[t] != resumed[t]]})
        print(f"episode {number}: {first or '(plain)'} {changes} kills {episodes[-1]['kills']} "
              f"equal {resumed == fresh}", flush=True)
        # written after every episode, so an interrupted torture still leaves its figures
        summary = summarize(args, attempts, episodes, time.monotonic() - started)
        if args.takeovers and args.out.exists():
            summary["takeovers"] = json.loads(args.out.read_text()).get("takeovers")
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "episode_list"}, indent=1))
    return 0 if summary["mismatches"] == 0 else 1


def run_takeovers(args: argparse.Namespace, rng: random.Random) -> int:
    """The takeover episodes first, then the kill episodes (when --kills is above 0); the takeover
    figures join bench/torture.json under "takeovers", next to the kill episodes' figures."""
    from bench.pgdb import throwaway_database
    from bench.takeover import episodes

    started = time.monotonic()
    with throwaway_database() as url:
        done = episodes(args.takeovers, args.takeover_scale, "100", rng, args.home.parent / "takeover",
                        url)
    summary = json.loads(args.out.read_text()) if args.out.exists() else {}
    summary["takeovers"] = {
        "scale": args.takeover_scale, "seed": args.seed, "episodes": len(done),
        "paused": sum(e["paused"] for e in done),
        "stopped_by_fencing": sum(e["a_exit"] == 4 for e in done if e["paused"]),
        "mismatches": sum(not e["equal"] for e in done),
        "duplicated_rows": sum(e["duplicated_rows"] for e in done),
        "seconds": round(time.monotonic() - started),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3], "episode_list": done}
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary["takeovers"].items() if k != "episode_list"}, indent=1))
    return 1 if summary["takeovers"]["mismatches"] else 0


def summarize(args: argparse.Namespace, attempts: list[Attempt], episodes: list[dict],
              seconds: float) -> dict:
    kinds: dict[str, int] = {}
    for a in attempts:
        if a.killed:
            kind = a.how.split(":")[0].split(" ")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    return {"scale": args.scale, "seed": args.seed, "kills": sum(a.killed for a in attempts),
            "attempts": len(attempts), "episodes": len(episodes),
            "mismatches": sum(not e["equal"] for e in episodes), "kills_by_kind": kinds,
            "seconds": round(seconds), "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            "episode_list": episodes}


if __name__ == "__main__":
    sys.exit(main())
