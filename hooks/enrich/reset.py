"""`enrich reset`: the runbook's hard reset (--all) and the rebuild of one market (--market ID).

Both take the home lock, so neither runs beside a runner. Decisions:
- --all backs up the result tables first (Parquet, via `enrich export`) and stops before touching
  anything when a backup fails. It then deletes this warehouse's checkpoints (local file and
  Postgres row) BEFORE it drops a table: killed in between, the next `enrich run --resume` finds
  no checkpoint and starts a new run, rather than trusting a "complete" run whose tables are
  gone. The Postgres ledger keeps its rows: it is the history of what ran; the console log
  records the reset and its backup path.
- --market rebuilds the market's batch keys exactly as a run does, with the same executor (the
  upstream models from the current sources, then every step's batched models for those keys,
  then the models the steps rebuild whole). It leaves the checkpoint alone: the next --changed or
  --resume sees those keys' new signatures and rebuilds them once more, which is idempotent.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from enrich import killpoints
from enrich.checkpoints import PgStore, state_path
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.errors import EnrichError
from enrich.executor import Executor
from enrich.export import export_relation
from enrich.locks import RunLock
from enrich.progress import Console
from enrich.project import FLOWS_MODEL, SOURCE_TABLES, result_tables, steps_from_manifest
from enrich.runstate import key_runs
from enrich.warehouse import connect, identity, resolve_target, table

CONFIRMATION = "reset"


def confirm(what: str) -> None:
    """Ask on a terminal; without one, refuse: a hard reset is never done by accident."""
    if not sys.stdin.isatty():
        raise EnrichError(f"{what}: refusing without confirmation; run it on a terminal or add --yes")
    answer = input(f"{what}. Type '{CONFIRMATION}' to go on: ")
    if answer.strip() != CONFIRMATION:
        raise EnrichError("reset cancelled; nothing was changed")


def _executor(config: Config) -> Executor:
    target = resolve_target(config)
    ddl = Ddl.for_target(connect(target), target)
    return Executor(DbtSession(config), ddl, config.home / "dbt" / "runs" / "reset")


def reset_all(config: Config, yes: bool, console: Console) -> Path:
    """Back up, forget the checkpoints, then drop the result tables; returns the backup folder."""
    target = resolve_target(config)
    warehouse = identity(target)
    url = os.environ.get("POSTGRES_URL")
    store = PgStore(url) if url else None
    try:
        if store is not None:
            try:
                store.migrate()
            except psycopg.Error as ex:
                raise store.unreachable(
                    ex, "its checkpoint could not be deleted, so nothing was reset"
                ) from None
        executor = _executor(config)
        tables = result_tables(steps_from_manifest(executor.session.manifest))
        if not yes:
            confirm(
                f"This backs up, then drops {', '.join(tables)} and deletes the checkpoints of {warehouse}"
            )
        backup = config.home / "backups" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        present = executor.existing(tables)
        for name in tables:
            if name in present:
                rows = export_relation(config, name, backup / f"{name}.parquet")
                console.say(f"backed up {rows:,} rows of {name}")
        console.say(f"backup: {backup}" if present else "no result tables to back up")
        state_path(config.home, warehouse).unlink(missing_ok=True)
        if store is not None:
            store.delete(warehouse)
        killpoints.reached("reset-forgotten")
        executor.drop(tables)
        executor.drop_leftovers(tables)
        console.say(
            f"reset --all: deleted the checkpoints, dropped {', '.join(tables)}"
            + (f" (local and Postgres {store.where}; the ledger keeps its history)" if store else "")
        )
        return backup
    finally:
        if store is not None:
            store.close()


def market_keys(config: Config, market_id: str, console: Console) -> list[int]:
    """Rebuild the batch keys of MARKET_ID's flows and result rows (an id bound, never pasted)."""
    executor = _executor(config)
    client, database = executor.client, executor.ddl.database
    steps = steps_from_manifest(executor.session.manifest)
    tables = result_tables(steps)
    missing = [name for name in tables if name not in executor.existing(tables)]
    if missing:
        raise EnrichError(f"no {', '.join(missing)} yet: run `enrich run` first")
    sources = [name for name in SOURCE_TABLES if name != "resolutions" and executor.existing([name])]
    found = sum(
        client.query(
            f"select count() from {table(database, name)} where market_id = {{m:String}}",
            parameters={"m": market_id},
        ).result_rows[0][0]
        for name in sources
    )
    if not found:
        raise EnrichError(f"no market {market_id!r} in {', '.join(sources)}; nothing was changed")
    console.say(f"reset --market {market_id}: rebuilding the upstream models")
    executor.upstream(steps)
    # the keys its flows have now, and those its result rows had (a condition it no longer names)
    keys = sorted(
        int(r[0])
        for r in client.query(
            " union distinct ".join(
                f"select batch_key from {table(database, name)} where market_id = {{m:String}}"
                for name in (FLOWS_MODEL, steps[0].batched[0])
            ),
            parameters={"m": market_id},
        ).result_rows
    )
    batched = tuple(m for s in steps for m in s.batched)
    for lo, hi in key_runs(keys):
        console.say(f"reset --market {market_id}: rebuilding keys {lo}-{hi} of {', '.join(batched)}")
        executor.build(batched, lo, hi, f"rebuild of keys {lo}-{hi}")
    for step in steps:
        executor.finalize(step.finalize, f"rebuild of {', '.join(step.finalize)}")
    return keys


def main(config: Config, args: argparse.Namespace) -> int:
    console = Console(config.home)
    lock = RunLock(config.home)
    lock.acquire()
    try:
        if args.all:
            backup = reset_all(config, args.yes, console)
            print(f"backup of the results: {backup}")
        else:
            keys = market_keys(config, args.market, console)
            console.say(f"reset --market {args.market}: rebuilt batch key(s) {', '.join(map(str, keys))}")
    except Exception as ex:
        console.note(f"reset refused or failed: {ex}")
        raise
    finally:
        lock.release()
    return 0
