"""What each batch key holds now: its pairs (what the plan packs into batches) and a signature
of everything its result rows are computed from.

The signature of a key is the count and an order-independent hash of its valid flows (the flows
table carries each flow's resolution, so a new or corrected resolution changes it) and a hash of
the markets_dim rows those flows name (labels and category reach Step E). A run records the
signatures its committed ranges were built from in its checkpoint (`enrich.runstate`); comparing
them with the current ones tells a resume or a `--changed` run which keys to build again.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from enrich.errors import EnrichError
from enrich.project import FLOWS_MODEL, MARKETS_MODEL
from enrich.warehouse import table

Signature = tuple[int, int, int]


@dataclass(frozen=True)
class KeyFigures:
    # pairs per batch key 0..P-1
    pairs: tuple[int, ...]
    signatures: dict[int, Signature]


def _figures_sql(database: str) -> str:
    flows, markets = table(database, FLOWS_MODEL), table(database, MARKETS_MODEL)
    return f"""
        with flow_sums as (
            select
                batch_key,
                uniqExact(wallet_address, condition_id) as pairs,
                count() as flows,
                sum(cityHash64(tuple(*))) as flows_hash
            from {flows}
            group by batch_key
        ),
        traded as (
            select distinct batch_key, market_id from {flows}
        ),
        market_rows as (
            select market_id, sum(cityHash64(market_id, condition_id, question, category, outcome_count,
                                              outcome_labels, end_date)) as market_hash
            from {markets}
            where is_valid = 1
            group by market_id
        ),
        market_sums as (
            select traded.batch_key as batch_key, sum(market_rows.market_hash) as markets_hash
            from traded left join market_rows on market_rows.market_id = traded.market_id
            group by traded.batch_key
        )
        select flow_sums.batch_key, flow_sums.pairs, flow_sums.flows, flow_sums.flows_hash,
               market_sums.markets_hash
        from flow_sums left join market_sums on market_sums.batch_key = flow_sums.batch_key
        order by flow_sums.batch_key
    """


def key_figures(client: Client, database: str, batch_partitions: int) -> KeyFigures:
    pairs = [0] * batch_partitions
    signatures: dict[int, Signature] = {}
    for key, key_pairs, flows, flows_hash, markets_hash in client.query(_figures_sql(database)).result_rows:
        if not 0 <= key < batch_partitions:
            raise EnrichError(
                f"{FLOWS_MODEL} has batch key {key}, outside 0..{batch_partitions - 1}: it was built with "
                "another batch_partitions; run `enrich run --fresh`"
            )
        pairs[key] = int(key_pairs)
        signatures[int(key)] = (int(flows), int(flows_hash), int(markets_hash))
    return KeyFigures(tuple(pairs), signatures)
