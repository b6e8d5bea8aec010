"""What each batch key holds now: its pairs (what the plan packs into batches) and a signature
of everything its result rows are computed from, as the dbt model int_batch_keys_summarized
computes them when the sources change (its SQL says what the signature covers).

A run records the signatures its committed ranges were built from in its checkpoint
(`enrich.runstate`); comparing them with the current ones tells a resume or a `--changed` run
which keys to build again.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from enrich.ddl import Ddl
from enrich.errors import EnrichError
from enrich.project import KEY_FIGURES_MODEL, SOURCE_TABLES
from enrich.warehouse import table

Signature = tuple[int, int, int]


@dataclass(frozen=True)
class KeyFigures:
    # pairs per batch key 0..P-1
    pairs: tuple[int, ...]
    signatures: dict[int, Signature]


def key_figures(client: Client, database: str, batch_partitions: int) -> KeyFigures:
    pairs = [0] * batch_partitions
    signatures: dict[int, Signature] = {}
    summary = table(database, KEY_FIGURES_MODEL)
    rows = client.query(
        f"select batch_key, pairs, flows, flows_hash, markets_hash from {summary} order by batch_key"
    ).result_rows
    for key, key_pairs, flows, flows_hash, markets_hash in rows:
        if not 0 <= key < batch_partitions:
            raise EnrichError(
                f"{KEY_FIGURES_MODEL} has batch key {key}, outside 0..{batch_partitions - 1}: it was "
                "built with another batch_partitions; run `enrich run --fresh`"
            )
        pairs[key] = int(key_pairs)
        signatures[int(key)] = (int(flows), int(flows_hash), int(markets_hash))
    return KeyFigures(tuple(pairs), signatures)


def source_marks(client: Client, ddl: Ddl) -> str:
    """The source tables' metadata, never their rows: per table its UUID (a swapped or re-created
    table gets a new one) and per partition its rows, highest block number (every insert takes a
    new one) and latest mutation (updates and deletes, lightweight ones included). A background
    merge changes none of these, so equal marks mean the rows are the ones last built from."""
    rows = client.query(
        "select t.name, toString(t.uuid), p.partition_id, p.rows, p.last_block, p.last_mutation"
        f" from {ddl.system('tables')} as t left join ("
        "  select table, partition_id, sum(rows) as rows, max(max_block_number) as last_block,"
        "   max(if(data_version > max_block_number, data_version, 0)) as last_mutation"
        f"  from {ddl.system('parts')} where active and database = {{db:String}}"
        "  group by table, partition_id) as p on p.table = t.name"
        " where t.database = {db:String} and t.name in {names:Array(String)}"
        " order by t.name, toString(t.uuid), p.partition_id",
        parameters={"db": ddl.database, "names": list(SOURCE_TABLES)},
        settings={"join_use_nulls": 0},
    ).result_rows
    return ";".join(",".join(str(v) for v in row) for row in rows)
