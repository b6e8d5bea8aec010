"""`enrich dims`: the markets gate 1 reports, and merging market rows into markets_dim.

--missing runs gate 1 itself (its SQL lives once, in tests/gates/) and lists its stored failures.
--from merges a file standing for the market API: sent from this process and checked by the
loader's functions into a scratch table, then the merged table is swapped in by the load's swap
protocol (`enrich.swap`): a bad file or a failure leaves markets_dim as it was, and a kill leaves
a merge the next command finishes (committed) or undoes (not yet committed), as for a load.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from enrich import killpoints, loader, space, swap
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.errors import EnrichError
from enrich.loader import Column, SourceFile
from enrich.project import MISSING_MARKETS_GATE
from enrich.warehouse import connect, resolve_target, table

DIM_TABLE = "markets_dim"
FORMATS = {".csv": "CSVWithNames", ".parquet": "Parquet", ".jsonl": "JSONEachRow", ".ndjson": "JSONEachRow"}
SHOWN = 20
# ClickHouse names a JSON field it cannot parse at the end of its message.
_JSON_KEY = re.compile(r"^(.+?: line \d+): (.*) \(while reading the value of key ([^)]+)\)$", re.S)


def missing_markets(config: Config) -> list[tuple[str, int]]:
    """(market_id, trades) of every traded market gate 1 finds without a markets_dim row."""
    session = DbtSession(config)
    views = session.invoke("run", "--select", f"+{MISSING_MARKETS_GATE},config.materialized:view")
    if not views.success:
        raise EnrichError(f"building the views {MISSING_MARKETS_GATE} reads failed; see the dbt log")
    result = session.invoke("test", "--select", MISSING_MARKETS_GATE)
    node_result = next((r for r in result.result or [] if r.node.name == MISSING_MARKETS_GATE), None)
    if node_result is None:
        raise EnrichError(f"the dbt project has no test {MISSING_MARKETS_GATE}")
    status = str(getattr(node_result.status, "value", node_result.status))
    if status == "error":
        raise EnrichError(f"{MISSING_MARKETS_GATE} failed to run: {(node_result.message or '').strip()}")
    node = node_result.node
    client = connect(resolve_target(config))
    try:
        rows = client.query(f"select market_id, trades from {table(node.schema, node.alias)}"
                            " order by market_id").result_rows
    finally:
        client.close()
    return [(str(m), int(t)) for m, t in rows]


def write_list(path: Path, market_ids: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text("".join(f"{m}\n" for m in market_ids))
    os.replace(partial, path)


@dataclass(frozen=True)
class MergeSummary:
    added: int
    changed: int
    unchanged: int
    recovered: str | None = None  # what finishing or undoing an interrupted load or merge did

    def describe(self, source: Path) -> str:
        merged = (f"{DIM_TABLE} from {source}: {self.added} added, {self.changed} changed, "
                  f"{self.unchanged} unchanged")
        return f"{self.recovered}\n{merged}" if self.recovered else merged


def merge_file(config: Config, path: Path) -> MergeSummary:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EnrichError(f"{path}: unknown format; use .csv, .parquet or .jsonl")
    if not (path.exists() or path.is_symlink()):
        raise EnrichError(f"{path}: no such file")
    loader.check_readable(path)
    source = SourceFile(DIM_TABLE, path.absolute(), fmt)
    DbtSession(config).run_operation("create_sources")
    target = resolve_target(config)
    client = connect(target)
    ddl = Ddl.for_target(client, target)
    database = target.database
    columns = loader.table_columns(client, database, DIM_TABLE)
    # named as the swap's scratch tables, so a recovery after a kill drops them too
    merged = swap.scratch_name(DIM_TABLE)
    incoming = f"{merged}__incoming"
    with space.reported(target):
        recovered = swap.recover_interrupted_load(client, ddl)
        try:
            with loader.staged_file(ddl, source, incoming) as staged:
                if fmt == "JSONEachRow":
                    _check_json_keys(ddl, source, columns)
                else:
                    loader.check_header(staged, columns)
                _create_like(ddl, incoming)
                try:
                    loader.parse_into(ddl, staged, incoming, columns)
                except EnrichError as ex:
                    # one JSON object per line: the loader's "row N" is line N of the file
                    message = str(ex).replace(f"{source.label}: row ", f"{source.label}: line ", 1)
                    raise EnrichError(_JSON_KEY.sub(r"\1, column \3: \2", message, count=1)) from None
            _check_unique(client, database, incoming, source)
            added, changed, unchanged = _classify(client, database, incoming)
            if added or changed:
                swap.prepare(ddl, DIM_TABLE)
                client.command(f"insert into {table(database, merged)} select * from "
                               f"{table(database, DIM_TABLE)} where market_id not in {{ids:Array(String)}}",
                               parameters={"ids": changed})
                client.command(f"insert into {table(database, merged)} select distinct * from "
                               f"{table(database, incoming)} where market_id in {{ids:Array(String)}}",
                               parameters={"ids": added + changed})
                ddl.drop_table(incoming)
                killpoints.reached("dims-merged")
                swap.commit(client, ddl, [DIM_TABLE])
        except BaseException:
            # drops what was not committed, completes what was
            swap.recover_interrupted_load(client, ddl)
            raise
        finally:
            ddl.drop_table(incoming)
    return MergeSummary(len(added), len(changed), len(unchanged), recovered)


def _create_like(ddl: Ddl, name: str) -> None:
    ddl.drop_table(name)
    ddl.create_table_like(name, DIM_TABLE)


def _check_json_keys(ddl: Ddl, source: SourceFile, columns: list[Column]) -> None:
    """Every line must be an object with exactly the table's keys: ClickHouse would skip others."""
    expected = sorted(c.name for c in columns)
    lines = f"{swap.scratch_name(DIM_TABLE)}__incoming__lines"
    ddl.drop_table(lines)
    ddl.create_table(lines, f"line String, {loader.ROW_COLUMN} UInt64 default rowNumberInAllBlocks()",
                     "MergeTree", loader.ROW_COLUMN, if_not_exists=False)
    try:
        loader.upload_lines(ddl.client, source, table(ddl.database, lines))
        rows = ddl.client.query(
            f"select {loader.ROW_COLUMN}, JSONExtractKeys(line), line from {table(ddl.database, lines)}"
            f" where arraySort(JSONExtractKeys(line)) != {{expected:Array(String)}}"
            f" order by {loader.ROW_COLUMN} limit 1",
            parameters={"expected": expected},
        ).result_rows
    finally:
        ddl.drop_table(lines)
    if rows:
        line, keys, text = rows[0]
        where = f"{source.label}: line {int(line) + 1}"
        if not keys:
            raise EnrichError(f"{where}: not a JSON object with the keys {', '.join(expected)}: "
                              f"{text[:60]!r}")
        missing = [k for k in expected if k not in keys]
        unknown = [k for k in keys if k not in expected]
        problems = ([f"missing key(s) {', '.join(missing)}"] if missing else []) + (
            [f"unexpected key(s) {', '.join(unknown)}"] if unknown else [])
        raise EnrichError(f"{where}: {'; '.join(problems) or 'duplicate keys'}")


def _check_unique(client: Client, database: str, incoming: str, source: SourceFile) -> None:
    rows = client.query(
        f"select market_id from {table(database, incoming)} group by market_id"
        " having uniqExact(cityHash64(*)) > 1 order by market_id limit 5"
    ).result_rows
    if rows:
        ids = ", ".join(repr(r[0]) for r in rows)
        raise EnrichError(f"{source.label}: market_id {ids} appear(s) more than once with different content; "
                          "keep one row per market")


def _classify(client: Client, database: str, incoming: str) -> tuple[list[str], list[str], list[str]]:
    """The incoming market ids that are new, that replace a different row, and that are identical."""
    rows = client.query(
        f"""
        select incoming.market_id, incoming.row_hash, existing.copies, existing.hashes
        from (select market_id, any(cityHash64(*)) as row_hash
              from {table(database, incoming)} group by market_id) as incoming
        left join (select market_id, count() as copies, groupUniqArray(cityHash64(*)) as hashes
                   from {table(database, DIM_TABLE)} group by market_id) as existing
            on existing.market_id = incoming.market_id
        order by incoming.market_id
        """
    ).result_rows
    added = [m for m, _, copies, _ in rows if copies == 0]
    unchanged = [m for m, h, copies, hashes in rows if copies > 0 and list(hashes) == [h]]
    changed = [m for m, h, copies, hashes in rows if copies > 0 and list(hashes) != [h]]
    return added, changed, unchanged


def main(config: Config, args: argparse.Namespace) -> int:
    if args.from_file:
        if args.out:
            raise EnrichError("--out goes with --missing")
        print(merge_file(config, Path(args.from_file)).describe(Path(args.from_file)))
        print("bring the results up to date with: enrich run --changed")
        return 0
    markets = missing_markets(config)
    out = Path(args.out) if args.out else config.home / "missing-markets.txt"
    write_list(out, [m for m, _ in markets])
    print(f"{len(markets)} market(s) traded but missing from {DIM_TABLE}; ids written to {out}")
    for market_id, trades in markets[:SHOWN]:
        print(f"  {market_id}  {trades} trades")
    if len(markets) > SHOWN:
        print(f"  ... ({len(markets) - SHOWN} more in {out})")
    return 0
