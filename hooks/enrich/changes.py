"""`enrich run --changed`: which batch keys changed since the last complete run.

At the end of every complete `--step all` run the runner records, per batch key, a signature of
what the key's rows are computed from: the count and an order-independent hash of its valid flows
(int_flows_unioned carries each flow's resolution, so a new or changed resolution changes it) and
a hash of the markets_dim rows those flows name (labels and category reach Step E). A later
`--changed` run diffs the signatures of the freshly built flows against the recorded ones and
rebuilds only the keys that differ, packed into contiguous ranges of changed keys.

The signatures belong to one run id: they are trusted only while the newest checkpoint is that
run's and complete, so a later `--fresh`, `--step D` or reset run never leaves a stale baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from enrich.checkpoints import Checkpoint
from enrich.plan import FLOWS_MODEL, Batch, Plan, pack_ranges
from enrich.warehouse import table

SIGNATURE_TABLE = "_enrich_key_signatures"
MARKETS_MODEL = "stg_polymarket__markets"

Signature = tuple[int, int, int]


@dataclass(frozen=True)
class ChangedPlan(Plan):
    """A plan over the changed keys only: its batches cover them, its pair count is theirs.

    It keeps the full data's key_pairs, so its input fingerprint (what a complete step was built
    on) is the same as a full plan's: after the run every key is current, not only those rebuilt.
    """

    @property
    def total_pairs(self) -> int:
        return sum(b.pairs for b in self.batches)


def _signatures_sql(database: str) -> str:
    """Per batch key: valid flows, hash of the flows, hash of the market rows they name."""
    flows, markets = table(database, FLOWS_MODEL), table(database, MARKETS_MODEL)
    return f"""
        with flow_sums as (
            select batch_key, count() as flows, sum(cityHash64(tuple(*))) as flows_hash
            from {flows} group by batch_key
        ),
        traded as (
            select distinct batch_key, market_id from {flows}
        ),
        market_rows as (
            select market_id, sum(cityHash64(market_id, condition_id, question, category, outcome_count,
                                              outcome_labels, end_date)) as market_hash
            from {markets}
            where quarantine_reason = '' and is_collapsed = 0
            group by market_id
        ),
        market_sums as (
            select traded.batch_key as batch_key, sum(market_rows.market_hash) as markets_hash
            from traded left join market_rows on market_rows.market_id = traded.market_id
            group by traded.batch_key
        )
        select flow_sums.batch_key as batch_key, flow_sums.flows as flows,
               flow_sums.flows_hash as flows_hash, market_sums.markets_hash as markets_hash
        from flow_sums left join market_sums on market_sums.batch_key = flow_sums.batch_key
    """


def current_signatures(client: Client, database: str) -> dict[int, Signature]:
    rows = client.query(_signatures_sql(database)).result_rows
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def recorded_signatures(client: Client, database: str) -> tuple[str, dict[int, Signature]] | None:
    """The run id and signatures of the last complete run, None when none are recorded."""
    exists = client.query(
        "select count() from system.tables where database = {db:String} and name = {name:String}",
        parameters={"db": database, "name": SIGNATURE_TABLE},
    ).result_rows[0][0]
    if not exists:
        return None
    rows = client.query(
        f"select run_id, batch_key, flows, flows_hash, markets_hash from {table(database, SIGNATURE_TABLE)}"
    ).result_rows
    if not rows:
        return None
    return str(rows[0][0]), {int(r[1]): (int(r[2]), int(r[3]), int(r[4])) for r in rows}


def record_signatures(client: Client, database: str, run_id: str) -> None:
    """Replace the recorded signatures with those of the current flows, atomically."""
    name, scratch = table(database, SIGNATURE_TABLE), table(database, SIGNATURE_TABLE + "__new")
    columns = ("(run_id String, batch_key UInt16, flows UInt64, flows_hash UInt64, markets_hash UInt64,"
               " recorded_at DateTime64(3, 'UTC')) engine = MergeTree order by batch_key")
    client.command(f"create table if not exists {name} {columns}")
    client.command(f"drop table if exists {scratch} sync")
    client.command(f"create table {scratch} {columns}")
    client.command(
        f"insert into {scratch} select {{run_id:String}}, batch_key, flows, flows_hash, markets_hash,"
        f" now64(3) from ({_signatures_sql(database)})",
        parameters={"run_id": run_id},
    )
    client.command(f"exchange tables {name} and {scratch}")
    client.command(f"drop table if exists {scratch} sync")


def drop_signatures(client: Client, database: str) -> None:
    client.command(f"drop table if exists {table(database, SIGNATURE_TABLE)} sync")


def changed_keys(recorded: dict[int, Signature], current: dict[int, Signature]) -> list[int]:
    """Keys whose signature differs, including keys that gained or lost every flow."""
    return sorted(k for k in recorded.keys() | current.keys() if recorded.get(k) != current.get(k))


def changed_ranges(keys: list[int], key_pairs: tuple[int, ...], batch_size: int) -> list[tuple[int, int]]:
    """Contiguous runs of changed keys, each split into batches of about `batch_size` pairs."""
    runs: list[list[int]] = []
    for key in keys:
        if runs and runs[-1][1] == key - 1:
            runs[-1][1] = key
        else:
            runs.append([key, key])
    ranges = []
    for lo, hi in runs:
        ranges += [(lo + a, lo + b) for a, b in pack_ranges(key_pairs[lo : hi + 1], batch_size)]
    return ranges


def changed_plan(full: Plan, keys: list[int], batch_size: int) -> ChangedPlan:
    ranges = changed_ranges(keys, full.key_pairs, batch_size)
    batches = tuple(Batch(idx, lo, hi, sum(full.key_pairs[lo : hi + 1]))
                    for idx, (lo, hi) in enumerate(ranges))
    return ChangedPlan(full.batch_partitions, full.key_pairs, batches, batch_size, full.data_fingerprint)


def plan_changes(client: Client, database: str, full: Plan, batch_size: int,
                 previous: Checkpoint | None) -> tuple[ChangedPlan | None, str]:
    """The plan of a `--changed` run, or None and why there is no baseline to diff against."""
    recorded = recorded_signatures(client, database)
    if recorded is None:
        return None, "no complete run has recorded its partition signatures yet"
    run_id, signatures = recorded
    if previous is None or previous.run_id != run_id or previous.unfinished:
        newest = f"run {previous.run_id} ({previous.status})" if previous else "gone"
        return None, f"the partition signatures are from run {run_id}, but the newest checkpoint is {newest}"
    keys = changed_keys(signatures, current_signatures(client, database))
    return changed_plan(full, keys, batch_size), f"changed since run {run_id}"


def resumed_plan(client: Client, database: str, full: Plan, batch_size: int,
                 fingerprint: str) -> ChangedPlan | None:
    """The plan of an interrupted `--changed` run, recomputed: None unless it has FINGERPRINT.

    The signatures are recorded only when a run completes, so while the data stays the same the
    interrupted run's changed keys, hence its plan, come out the same.
    """
    recorded = recorded_signatures(client, database)
    if recorded is None:
        return None
    plan = changed_plan(full, changed_keys(recorded[1], current_signatures(client, database)), batch_size)
    return plan if plan.fingerprint == fingerprint else None


def describe(plan: ChangedPlan, say: Callable[[str], None]) -> None:
    keys = sum(b.hi - b.lo + 1 for b in plan.batches)
    shown = ", ".join(b.keys for b in plan.batches[:12]) + (" ..." if len(plan.batches) > 12 else "")
    say(f"--changed: {keys} of {plan.batch_partitions} keys changed ({shown or 'none'}), "
        f"{plan.total_pairs:,} pairs in {len(plan.batches)} batches")
