"""`enrich reset`: the runbook's hard reset (--all) and the rebuild of one market (--market ID).

Both take the run lock, so neither runs beside a runner. Decisions:
- --all backs up the four result tables first (Parquet, via `enrich export`) and stops before
  touching anything when a backup fails. It drops the tables, the `_enrich_meta` markers (all of
  them describe the dropped tables), the partition signatures of `--changed` and this job's
  checkpoints (local file and Postgres row). The Postgres ledger keeps its rows: it is the history
  of what ran; the console log records the reset and its backup path, so the history says where
  the old results went.
- --market recomputes the market's partitions exactly as a run does (the flows table rebuilt
  from the current sources, then the batched models for those keys, then wallet_accuracy). It
  leaves the checkpoint alone: the partitions it rewrites end up as a complete run makes them.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from enrich import changes, checkpoints
from enrich.checkpoints import JOB, PgStore
from enrich.config import Config
from enrich.dbtsession import DbtError, DbtSession
from enrich.errors import EnrichError
from enrich.export import export_relation
from enrich.locks import RunLock
from enrich.plan import FLOWS_MODEL
from enrich.progress import Console
from enrich.runner import META_TABLE, STEP_D, STEP_E, STEPS, Warehouse, check_run
from enrich.warehouse import connect, resolve_target, table

RESULT_TABLES = tuple(m for s in STEPS for m in s.models)
SOURCES_OF_MARKETS = ("trades_raw", "ctf_events", "markets_dim")
CONFIRMATION = "reset"


def confirm(what: str) -> None:
    """Ask on a terminal; without one, refuse: a hard reset is never done by accident."""
    if not sys.stdin.isatty():
        raise EnrichError(f"{what}: refusing without confirmation; run it on a terminal or add --yes")
    answer = input(f"{what}. Type '{CONFIRMATION}' to go on: ")
    if answer.strip() != CONFIRMATION:
        raise EnrichError("reset cancelled; nothing was changed")


def reset_all(config: Config, yes: bool, console: Console) -> Path:
    """Back up, then drop the result tables and forget every checkpoint; returns the backup folder."""
    url = os.environ.get("POSTGRES_URL")
    store = PgStore(url) if url else None
    try:
        if store is not None:
            try:
                store.migrate()
            except psycopg.Error as ex:
                raise EnrichError(f"Postgres at {store.where} is unreachable ({store.error(ex)}); its "
                                  "checkpoint could not be deleted, so nothing was reset") from None
        if not yes:
            confirm(f"This backs up, then drops {', '.join(RESULT_TABLES)} and deletes the checkpoints "
                    f"of {config.home}")
        target = resolve_target(config)
        client = connect(target)
        warehouse = Warehouse(client, target.database)
        backup = config.home / "backups" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        present = warehouse.existing(RESULT_TABLES)
        for name in RESULT_TABLES:
            if name in present:
                rows = export_relation(config, name, backup / f"{name}.parquet")
                console.say(f"backed up {rows:,} rows of {name}")
        console.say(f"backup: {backup}" if present else "no result tables to back up")
        for name in (*RESULT_TABLES, META_TABLE, changes.SIGNATURE_TABLE):
            warehouse.drop(name)
        warehouse.drop_leftovers(RESULT_TABLES)
        checkpoints.state_path(config.home).unlink(missing_ok=True)
        if store is not None:
            with psycopg.connect(store.url, autocommit=True, connect_timeout=5) as conn:
                conn.execute("delete from ops_job_checkpoints where job = %s", [JOB])
        console.say(f"reset --all: dropped {', '.join(RESULT_TABLES)}, the run markers and the checkpoints"
                    + (f" (local and Postgres {store.where}; the ledger keeps its history)" if store else ""))
        return backup
    finally:
        if store is not None:
            store.close()


def market_keys(config: Config, market_id: str, console: Console) -> list[int]:
    """Rebuild the flows table, then the batch keys of the market's conditions (bound parameter)."""
    target = resolve_target(config)
    client = connect(target)
    database = target.database
    warehouse = Warehouse(client, database)
    missing = [name for name in RESULT_TABLES if name not in warehouse.existing(RESULT_TABLES)]
    if missing:
        raise EnrichError(f"no {', '.join(missing)} yet: run `enrich run` first")
    sources = [name for name in SOURCES_OF_MARKETS if warehouse.existing((name,))]
    found = sum(client.query(f"select count() from {table(database, name)} where market_id = {{m:String}}",
                             parameters={"m": market_id}).result_rows[0][0] for name in sources)
    if not found:
        raise EnrichError(f"no market {market_id!r} in {', '.join(SOURCES_OF_MARKETS)}; nothing was changed")
    session = DbtSession(config)
    console.say(f"reset --market {market_id}: rebuilding {FLOWS_MODEL}")
    _run(session, ("+" + FLOWS_MODEL,), (), None, f"rebuild of {FLOWS_MODEL}")
    staged = " union distinct ".join(
        f"select batch_key from {table(database, view)} where market_id = {{m:String}}"
        for view in ("stg_polymarket__trades", "stg_polymarket__ctf_events", "stg_polymarket__markets"))
    keys = sorted(int(r[0]) for r in client.query(staged, parameters={"m": market_id}).result_rows)
    for lo, hi in changes.changed_ranges(keys, (0,) * (max(keys) + 1), 1):
        # flows_built_this_run: the flows table was rebuilt above, the models need not re-check it
        variables = {"batch_lo": lo, "batch_hi": hi, "flows_built_this_run": True}
        models = (*STEP_D.batched, *STEP_E.batched)
        console.say(f"reset --market {market_id}: rebuilding keys {lo}-{hi} of {', '.join(models)}")
        _run(session, models, models, variables, f"rebuild of keys {lo}-{hi}")
    _run(session, STEP_E.finalize, STEP_E.finalize, None, "rebuild of wallet_accuracy")
    return keys


def _run(session: DbtSession, select: tuple[str, ...], expected: tuple[str, ...],
         variables: dict[str, int | bool] | None, what: str) -> None:
    try:
        result = session.invoke("run", "--select", *select, variables=variables)
    except DbtError as ex:
        raise EnrichError(f"{what}: {ex}") from None
    check_run(result, expected, what)


def main(config: Config, args: argparse.Namespace) -> int:
    from dbt.adapters.chdb.client import EngineLockedError

    console = Console(config.home, JOB)
    lock = RunLock(config.home, JOB)
    lock.acquire()
    try:
        if args.all:
            backup = reset_all(config, args.yes, console)
            print(f"backup of the results: {backup}")
        else:
            keys = market_keys(config, args.market, console)
            console.say(f"reset --market {args.market}: rebuilt batch key(s) {', '.join(map(str, keys))}")
    except EngineLockedError as ex:
        console.note(f"reset refused: {ex}")
        raise EnrichError(str(ex)) from None
    except EnrichError as ex:
        console.note(f"reset refused or failed: {ex}")
        raise
    finally:
        lock.release()
    return 0
