"""The shard simulation's queries against one embedded home, run in a child process.

chDB allows one process per data directory, so `bench.shards` never opens a home itself: it
starts `python -m bench.shardworker TASK --home H ...` between the `enrich` commands and reads
one JSON line back. One call gathers everything the simulation needs from a home: each child
process costs seconds of start-up (Python, dbt's imports, the engine).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from enrich.config import Config
from enrich.export import export_relation
from enrich.warehouse import connect, resolve_target, table

# Every table the simulation reads the sharding key from: each computes batch_key with the
# project's own macro, so the split uses the expression the models use, not a copy of it.
STAGED_SOURCES = ("stg_polymarket__trades", "stg_polymarket__ctf_events",
                  "stg_polymarket__resolutions", "stg_polymarket__markets")
# Written by the runner at the time of the run; the only column two equal runs may differ in.
EXCLUDED_COLUMNS = ("computed_at",)
GATES = ("gate_wallets_with_outcomes", "gate_bad_markets")
SOURCES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")
RESULT_TABLES = ("pnl", "pnl_positions", "wallet_resolution_outcomes")


def ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def condition_keys(client: Client, database: str) -> dict[str, int]:
    """condition_id -> batch_key, as the staging views compute it; one key per condition."""
    union = " union all ".join(f"select condition_id, batch_key from {table(database, v)}"
                               for v in STAGED_SOURCES)
    rows = client.query(
        f"select condition_id, min(batch_key), max(batch_key) from ({union}) group by condition_id"
    ).result_rows
    split = [r[0] for r in rows if r[1] != r[2]]
    if split:
        raise SystemExit(f"conditions with more than one batch_key: {split[:5]}")
    return {r[0]: int(r[1]) for r in rows}


def count(client: Client, database: str, name: str) -> int:
    return int(client.query(f"select count() from {table(database, name)}").result_rows[0][0])


def columns(client: Client, database: str, name: str) -> list[str]:
    return [r[0] for r in client.query(
        "select name from system.columns where database = {db:String} and table = {t:String} "
        "and default_kind != 'MATERIALIZED' order by position", parameters={"db": database, "t": name},
    ).result_rows]


def checksum(client: Client, database: str, name: str) -> dict[str, Any]:
    """Row count and two order-independent sums of row hashes over every column but computed_at.

    Sums (mod 2^64), not XOR, so a row twice is not a row never; additive, so the union's
    checksum is the sum of the shards'. Rows are hashed as their text, which is exact for every
    type the models use (decimals print every digit).
    """
    compared = [c for c in columns(client, database, name) if c not in EXCLUDED_COLUMNS]
    row = "toString(tuple(" + ", ".join(ident(c) for c in compared) + "))"
    count, city, sip = client.query(
        f"select count(), sum(cityHash64(r)), sum(sipHash64(r)) "
        f"from (select {row} as r from {table(database, name)})"
    ).result_rows[0]
    return {"columns": compared, "rows": int(count), "city": int(city), "sip": int(sip)}


def market_totals(client: Client, database: str) -> dict[str, list[Any]]:
    """The conservation measure per resolved market: sum(realized P&L) + sum(fees), and its flows."""
    rows = client.query(
        f"select market_id, toString(sum(realized_pnl_usd) + sum(fee_usd)), count() "
        f"from {table(database, 'pnl')} where is_resolved = 1 group by market_id"
    ).result_rows
    return {r[0]: [r[1], int(r[2])] for r in rows}


def wallets(client: Client, database: str) -> list[str]:
    return [r[0] for r in client.query(
        f"select distinct wallet_address from {table(database, 'pnl_positions')} order by 1"
    ).result_rows]


def gate_rows(client: Client) -> dict[str, list[list[str]]]:
    """The stored result of each gate that keeps rows, wherever dbt put its audit schema."""
    found: dict[str, list[list[str]]] = {}
    for gate in GATES:
        where = client.query("select database from system.tables where name = {n:String}",
                             parameters={"n": gate}).result_rows
        if len(where) != 1:
            raise SystemExit(f"expected one stored table for {gate}, found {len(where)}")
        rows = client.query(f"select * from {table(where[0][0], gate)}").result_rows
        found[gate] = sorted([str(v) for v in r] for r in rows)
    return found


def residues(client: Client, database: str, shards: int) -> dict[str, dict[str, int]]:
    """Rows per batch_key % shards of every table that carries the key: which shards they name."""
    found: dict[str, dict[str, int]] = {}
    for name in (*STAGED_SOURCES, "int_flows_unioned", *RESULT_TABLES):
        rows = client.query(f"select batch_key % {{n:UInt16}}, count() from {table(database, name)} "
                            "group by 1", parameters={"n": shards}).result_rows
        found[name] = {str(r[0]): int(r[1]) for r in rows}
    return found


def facts(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "checksums": {name: checksum(client, database, name) for name in args.tables},
        "market_totals": market_totals(client, database),
        "wallets": wallets(client, database),
        "gates": gate_rows(client),
        "source_rows": {name: count(client, database, name) for name in SOURCES},
    }
    if args.keys:
        out["keys"] = condition_keys(client, database)
    if args.residues:
        out["residues"] = residues(client, database, args.residues)
    if args.ddl:
        out["ddl"] = {name: client.query(f"show create table {table(database, name)}").result_rows[0][0]
                      for name in args.ddl}
    for name in args.export:
        export_relation(args.config, name, Path(args.export_dir) / f"{name}.parquet")
    return out


def adopt(client: Client, database: str, args: argparse.Namespace) -> dict[str, Any]:
    """Create tables from recorded CREATE statements and fill each with NAME.parquet of every --from dir.

    file() reads the client's disk: fine here, where every home is an embedded engine on this
    machine; the simulation never runs against a server.
    """
    statements = json.loads(Path(args.ddl_file).read_text())
    rows = {}
    for name in args.tables:
        client.command(f"drop table if exists {table(database, name)} sync")
        client.command(statements[name])
        names = ", ".join(ident(c) for c in columns(client, database, name))
        for directory in args.source_dirs:
            client.command(
                f"insert into {table(database, name)} ({names}) select {names} "
                f"from file({{path:String}}, 'Parquet')",
                parameters={"path": str((Path(directory) / f"{name}.parquet").resolve())},
            )
        rows[name] = count(client, database, name)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shardworker")
    parser.add_argument("task", choices=["facts", "adopt"])
    parser.add_argument("--home", required=True)
    parser.add_argument("--tables", nargs="*", default=[], help="facts: checksum these; adopt: create these")
    parser.add_argument("--keys", action="store_true", help="facts: also every condition's batch_key")
    parser.add_argument("--residues", type=int, default=0, help="facts: also rows per batch_key %% N")
    parser.add_argument("--ddl", nargs="*", default=[], help="facts: also these tables' CREATE statements")
    parser.add_argument("--export", nargs="*", default=[], help="facts: also export these to --export-dir")
    parser.add_argument("--export-dir")
    parser.add_argument("--ddl-file", help="adopt: JSON of CREATE statements by table")
    parser.add_argument("--from", dest="source_dirs", nargs="*", default=[],
                        help="adopt: directories holding NAME.parquet")
    args = parser.parse_args(argv)
    args.config = Config.from_env(home=args.home)
    target = resolve_target(args.config)
    client = connect(target)
    try:
        if args.task == "facts":
            result: Any = facts(client, target.database, args)
        else:
            result = adopt(client, target.database, args)
    finally:
        client.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
