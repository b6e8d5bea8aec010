"""The refresh scope: which conditions an `enrich run --changed` recomputes, and its batches.

A condition is in the scope when its source rows changed (its per-table row count or sum of
`_row_hash` differs from what the results were last built from: int_source_digests_computed
against int_source_digests_recorded), or when a changed row can change its rows' verdicts: it
holds a row with the id of a row of a changed condition (duplicate ids), or a row naming a market
that a changed condition's rows name (the market and missing-market checks). Both the rows as they
are now (the staged sources) and as they were last built (the flows table and the quarantine)
count, so a deleted or rewritten row widens the scope as much as a new one. docs/ARCHITECTURE.md
says why the unit is the condition.

The scope lives in the warehouse table `_enrich_refresh_scope` (condition_id, batch_key, batch),
which dbt reads through macros/batching/refresh_scope.sql: batch 0 holds the whole scope, written
before anything is built, so a resume after a kill at any later moment rebuilds at least it;
batches 1..n split it by pairs once the flows are current.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from enrich.ddl import Ddl
from enrich.project import FLOWS_MODEL, QUARANTINE_MODEL, Step
from enrich.warehouse import table

SCOPE_TABLE = "_enrich_refresh_scope"
DIGESTS_COMPUTED = "int_source_digests_computed"
DIGESTS_RECORDED = "int_source_digests_recorded"
TRADES_STAGED = "stg_polymarket__trades"
CTF_STAGED = "stg_polymarket__ctf_events"
MARKETS_STAGED = "stg_polymarket__markets"
# What a refresh rebuilds before its batches: the scoped views (materialized scopable_view) and
# the tables built from them, the recorded digests last.
SCOPED_TABLES = (FLOWS_MODEL, QUARANTINE_MODEL, DIGESTS_RECORDED)
SCOPED_UPSTREAM = ("int_missing_market_conditions_counted", "int_trades_validated",
                   "int_ctf_events_validated", *SCOPED_TABLES)


@dataclass(frozen=True)
class SourceChange:
    """What changed in one source table, over the conditions a widening added to the scope."""

    conditions: int
    rows_added: int
    rows_removed: int
    # conditions whose row count is unchanged but whose rows differ: updated in place
    conditions_rewritten: int

    def describe(self) -> str:
        text = f"+{self.rows_added:,} -{self.rows_removed:,} rows on {self.conditions:,} condition(s)"
        if self.conditions_rewritten:
            text += f", {self.conditions_rewritten:,} rewritten in place"
        return text


@dataclass(frozen=True)
class Scope:
    changed: int  # conditions whose source rows changed
    conditions: int  # the whole scope, with the conditions they reach
    # per source table, what changed in the conditions this widening added
    sources: dict[str, SourceChange]


class RefreshScope:
    def __init__(self, ddl: Ddl) -> None:
        self.ddl = ddl
        self.client: Client = ddl.client
        self.db = ddl.database

    def _t(self, name: str) -> str:
        return table(self.db, name)

    def ensure_table(self) -> None:
        self.ddl.create_table(SCOPE_TABLE, "condition_id String, batch_key UInt16, batch UInt32",
                              "MergeTree", "(batch, condition_id)")

    def clear(self) -> None:
        self.ensure_table()
        self.client.command(f"truncate table {self._t(SCOPE_TABLE)}{self.ddl.on_cluster} sync")

    def conditions(self) -> int:
        return int(self.client.query(
            f"select uniqExact(condition_id) from {self._t(SCOPE_TABLE)}").result_rows[0][0])

    def widen(self) -> Scope:
        """Add the conditions that changed since the last build, and those they reach, to batch 0.

        The digests are compared once (the computed side reads every source row's condition and
        hash); the differing (table, condition) rows come back to be counted and written to the
        scope, a few per changed condition."""
        scope = self._t(SCOPE_TABLE)
        before = self.conditions()
        differing = self.client.query(
            "select source_table, condition_id, batch_key, now.source_rows, built.source_rows"
            f" from (select * from {self._t(DIGESTS_COMPUTED)}) as now"
            f" full outer join {self._t(DIGESTS_RECORDED)} as built"
            "  using (source_table, condition_id, batch_key)"
            " where (now.source_rows != built.source_rows or now.rows_hash != built.rows_hash)"
            f"  and condition_id not in (select condition_id from {scope})",
            settings={"join_use_nulls": 0},
        ).result_rows
        if differing:
            self.client.insert(SCOPE_TABLE, sorted({(c, int(k), 0) for _, c, k, _, _ in differing}),
                               column_names=["condition_id", "batch_key", "batch"], database=self.db)
        changed = self.conditions() - before
        if changed:
            self._reach()
        return Scope(changed, self.conditions(), _source_changes(differing))

    def _reach(self) -> None:
        """Add the conditions whose verdicts the scope's rows can change (one step suffices: a
        verdict depends only on the row's id copies and its market's rows)."""
        scope = self._t(SCOPE_TABLE)
        in_scope = f"condition_id in (select condition_id from {scope})"
        trades, ctf, markets = self._t(TRADES_STAGED), self._t(CTF_STAGED), self._t(MARKETS_STAGED)
        flows, quarantine = self._t(FLOWS_MODEL), self._t(QUARANTINE_MODEL)
        flow_ids = (f"select cityHash64(trade_id) from {trades} where {in_scope}"
                    f" union all select cityHash64(event_id) from {ctf} where {in_scope}"
                    f" union all select cityHash64(flow_id) from {flows} where {in_scope}"
                    f" union all select cityHash64(row_id) from {quarantine} where {in_scope}"
                    " and source_table in ('trades_raw', 'ctf_events')")
        market_ids = (f"select market_id from {trades} where {in_scope}"
                      f" union all select market_id from {ctf} where {in_scope}"
                      f" union all select market_id from {markets} where {in_scope}"
                      f" union all select market_id from {flows} where {in_scope}"
                      f" union all select JSONExtractString(raw_row, 'market_id') from {quarantine}"
                      f" where {in_scope} and source_table != 'resolutions'")
        self.client.command(
            f"insert into {scope} (condition_id, batch_key, batch)"
            f" with ids as ({flow_ids}), markets as ({market_ids})"
            " select distinct condition_id, batch_key, 0 from ("
            f"  select condition_id, batch_key from {trades} where cityHash64(trade_id) in ids"
            f"  union all select condition_id, batch_key from {ctf} where cityHash64(event_id) in ids"
            f"  union all select condition_id, batch_key from {trades} where market_id in markets"
            f"  union all select condition_id, batch_key from {ctf} where market_id in markets"
            f"  union all select condition_id, batch_key from {markets} where market_id in markets)"
            f" where condition_id not in (select condition_id from {scope})")

    def partitions(self) -> int:
        """The batch-key partitions the scope's conditions lie in: what the marts' batches replace."""
        return int(self.client.query(
            f"select uniqExact(batch_key) from {self._t(SCOPE_TABLE)}").result_rows[0][0])

    def plan(self, batch_size: int) -> list[list[int]]:
        """Split the scope into batches of about BATCH_SIZE pairs (as the flows hold them now);
        returns the plan, [batch, batch, pairs] per batch."""
        scope = self._t(SCOPE_TABLE)
        rows = self.client.query(
            f"select s.condition_id, s.batch_key, f.pairs from (select distinct condition_id, batch_key"
            f" from {scope}) as s left join (select condition_id, uniqExact(wallet_address) as pairs"
            f" from {self._t(FLOWS_MODEL)} where condition_id in (select condition_id from {scope})"
            " group by condition_id) as f using (condition_id) order by s.batch_key, s.condition_id",
            settings={"join_use_nulls": 0},
        ).result_rows
        batches: list[list[tuple[str, int]]] = []
        pairs: list[int] = []
        for condition, key, count in rows:
            if not batches or (pairs[-1] and pairs[-1] + int(count) > batch_size):
                batches.append([])
                pairs.append(0)
            batches[-1].append((str(condition), int(key)))
            pairs[-1] += int(count)
        self.client.command(f"alter table {scope}{self.ddl.on_cluster} delete where batch > 0",
                            settings={"mutations_sync": 2})
        self.client.insert(
            SCOPE_TABLE, [[c, k, n] for n, members in enumerate(batches, start=1) for c, k in members],
            column_names=["condition_id", "batch_key", "batch"], database=self.db)
        return [[n, n, p] for n, p in enumerate(pairs, start=1)]


def _source_changes(differing: list[Any]) -> dict[str, SourceChange]:
    """Per source table: rows added and removed, and the conditions changed and rewritten in place."""
    found: dict[str, list[int]] = {}
    for table_name, _, _, now, built in differing:
        counts = found.setdefault(str(table_name), [0, 0, 0, 0])
        now, built = int(now), int(built)
        counts[0] += 1
        counts[1] += max(now - built, 0)
        counts[2] += max(built - now, 0)
        counts[3] += now == built
    return {name: SourceChange(*counts) for name, counts in sorted(found.items())}


def account(previous: dict[str, Any], widened: Scope, plan: list[list[int]], partitions: int,
            steps: Sequence[Step]) -> dict[str, Any]:
    """A refresh's account of itself, as the checkpoint and the `planned` event keep it: what changed
    (accumulated over the widenings of a resumed refresh) and what the plan rebuilds."""
    sources: dict[str, dict[str, int]] = {k: dict(v) for k, v in previous.get("sources", {}).items()}
    for name, change in widened.sources.items():
        counts = sources.setdefault(name, dict.fromkeys(asdict(change), 0))
        for key, value in asdict(change).items():
            counts[key] += value
    return {
        "changed_conditions": previous.get("changed_conditions", 0) + widened.changed,
        "scope_conditions": widened.conditions,
        "sources": sources,
        "positions": sum(batch[2] for batch in plan),
        "batches": len(plan),
        "partitions": partitions if plan else 0,
        "upstream": list(SCOPED_TABLES) if widened.conditions else [],
        "replaced": [name for step in steps for name in step.batched] if plan else [],
        "rebuilt_whole": [name for step in steps for name in step.finalize] if plan else [],
    }


def describe(refresh: dict[str, Any]) -> list[str]:
    """The account as lines for the run's output and `enrich status`."""
    if not refresh:
        return []
    lines = [f"refresh: {refresh['changed_conditions']:,} condition(s) changed, "
             f"{refresh['scope_conditions']:,} in scope, {refresh['positions']:,} positions "
             f"in {refresh['batches']:,} batch(es)"]
    for name, counts in refresh["sources"].items():
        lines.append(f"  {name}: {SourceChange(**counts).describe()}")
    if refresh["upstream"]:
        lines.append(f"  rebuilt for the scope's conditions: {', '.join(refresh['upstream'])}")
    if refresh["replaced"]:
        lines.append(f"  {refresh['partitions']:,} batch-key partition(s) replaced in "
                     f"{', '.join(refresh['replaced'])}")
    if refresh["rebuilt_whole"]:
        lines.append(f"  rebuilt whole: {', '.join(refresh['rebuilt_whole'])}")
    return lines
