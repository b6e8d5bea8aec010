"""Issue 19's refresh scenarios, applied to a home whose sources were seeded and completely run.

Each scenario changes the sources the way an operator's data arrives, through the product's own
commands: new rows are written as CSV files (by the engine, from the current source tables, so
they load exactly as an operator's export would) and loaded with `enrich load DIR --append`; fee
corrections are an `ALTER TABLE trades_raw UPDATE` in place, as operators repair data.

- `day`: a day of trading. New fills numbering 1% of trades_raw's rows: whole two-legged
  transactions (a BUY and its SELL) copied onto 30% of the open conditions (in markets_dim, not
  resolved), with new trade ids and tx hashes and block times after the newest flow of the sources.
- `resolutions`: 1% of all conditions resolved: open conditions with fills, a one-winner payout
  vector of the market's outcome count, resolved an hour after the condition's last flow.
- `corrections`: 0.1% of trades_raw's rows, sampled over every condition, get their fee corrected
  in place (raised by 0.0001-0.01 USD), plus a few transactions appended with block times 1 ms
  after an existing one's, so before the newest (late data the lens must replay in order).
- `nothing`: no change.

Deterministic: every choice is a seeded hash (cityHash64(seed, purpose, id)) ordering rows whose ids
the seed fixed, so the same sources and seed give the same rows on any machine; two homes with the
same data given the same scenarios stay equal (the refresh test relies on it).

The functions here take an open client on the warehouse: the benchmark calls them in its worker
process (chDB allows one process per data directory), the test in its own process. The load
between `write_rows` and `correct` is the caller's: `enrich load OUT --append` when files were
written, the ALTER after it, so the update in place is the last thing that happened to the table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from enrich.warehouse import table

SCENARIOS = ("nothing", "day", "resolutions", "corrections")
# the order the refresh bench and test apply them in: each leaves sources the next one can use
DEFAULT_SEED = 19
DAY_TRADE_SHARE = 0.01  # new trade rows, as a share of trades_raw's rows
DAY_OPEN_SHARE = 0.30  # of the open conditions
RESOLVED_SHARE = 0.01  # of all conditions
CORRECTED_SHARE = 0.001  # of trades_raw's rows
LATE_TRANSACTIONS = 5  # "a few fills appended with block times before the newest"
PLAN_FILE = "scenario.json"
TRADE_COLUMNS = ("trade_id", "tx_hash", "block_time", "wallet_address", "market_id", "condition_id",
                 "outcome_index", "side", "shares", "usd_value", "fee_usd")


@dataclass
class Prepared:
    """What a scenario does: the CSV files written (table -> rows), the trade ids whose fee is to be
    corrected in place, and figures for the report."""

    scenario: str
    seed: int
    files: dict[str, int] = field(default_factory=dict)
    corrections: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def save(self, out: Path) -> None:
        (out / PLAN_FILE).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def read(cls, out: Path) -> Prepared:
        return cls(**json.loads((out / PLAN_FILE).read_text()))


class _Sources:
    def __init__(self, client: Client, database: str, seed: int) -> None:
        self.client = client
        self.seed = seed
        self.database = database
        self.trades = table(database, "trades_raw")
        self.ctf = table(database, "ctf_events")
        self.markets = table(database, "markets_dim")
        self.resolutions = table(database, "resolutions")

    def bound(self, sql: str, parameters: dict[str, Any]) -> dict[str, Any] | None:
        """The parameters SQL names: without a {name:Type} placeholder the client formats the
        statement itself (%-style), which a `%` operator breaks."""
        return {k: v for k, v in {"seed": self.seed, **parameters}.items() if f"{{{k}:" in sql} or None

    def value(self, sql: str, **parameters: Any) -> Any:
        return self.client.query(sql, parameters=self.bound(sql, parameters)).result_rows[0][0]

    def column(self, sql: str, **parameters: Any) -> list[Any]:
        return [row[0] for row in self.client.query(sql, parameters=self.bound(sql, parameters)).result_rows]

    @property
    def newest(self) -> str:
        """The scalar subquery of the newest flow's block time in the sources."""
        return (f"(select max(block_time) from (select block_time from {self.trades}"
                f" union all select block_time from {self.ctf}))")

    def whole_transactions(self, where: str = "1") -> str:
        """(condition_id, tx_hash) of the trades_raw transactions that are one BUY and one SELL:
        copied whole they keep the data a closed system (both legs, the same shares)."""
        return (f"select condition_id, tx_hash from {self.trades} where {where}"
                " group by condition_id, tx_hash having count() = 2 and uniqExact(side) = 2")

    def write_csv(self, out: Path, name: str, sql: str, **parameters: Any) -> int:
        """The rows of SQL as `out/NAME.csv`, written by the engine in the format `enrich load`
        reads; returns the number of rows."""
        path = out / f"{name}.csv"
        with self.client.raw_stream(sql, parameters=self.bound(sql, parameters),
                                    fmt="CSVWithNames") as stream, path.open("wb") as fh:
            for chunk in stream:
                fh.write(chunk)
        with path.open("rb") as fh:
            return sum(1 for _ in fh) - 1

    def copies(self, picked: str, tag: str, block_time: str) -> str:
        """The trades_raw rows of the transactions in PICKED (columns k, tx_hash, condition_id: copy k
        of a transaction), with new ids derived from TAG and k, at BLOCK_TIME (an expression of t and
        k). A copy's two legs share a new tx hash and a block time."""
        columns = ", ".join(
            {"trade_id": f"concat(t.trade_id, '-{tag}-', toString(p.k)) as trade_id",
             "tx_hash": f"concat('0x', lower(hex(SHA256(concat('{tag}', toString({{seed:UInt64}}), "
                        "t.tx_hash, toString(p.k)))))) as tx_hash",
             "block_time": f"{block_time} as block_time"}.get(c, f"t.{c} as {c}") for c in TRADE_COLUMNS)
        return (f"select {columns} from ({picked}) as p inner join {self.trades} as t"
                " on t.tx_hash = p.tx_hash and t.condition_id = p.condition_id order by trade_id")


def write_rows(client: Client, database: str, scenario: str, out: Path, seed: int = DEFAULT_SEED) -> Prepared:
    """Write SCENARIO's new rows to OUT as CSV files (`enrich load OUT --append` takes them) and
    decide its in-place corrections (`correct` applies them after the load)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.csv"):
        stale.unlink()
    src = _Sources(client, database, seed)
    prepared = Prepared(scenario, seed)
    prepared.figures["trade_rows_before"] = int(src.value(f"select count() from {src.trades}"))
    if scenario == "day":
        _day(src, out, prepared)
    elif scenario == "resolutions":
        _resolutions(src, out, prepared)
    elif scenario == "corrections":
        _corrections(src, out, prepared)
    prepared.save(out)
    return prepared


def _open_conditions(src: _Sources) -> str:
    return (f"select condition_id from {src.markets}"
            f" where condition_id not in (select condition_id from {src.resolutions})")


def _day(src: _Sources, out: Path, prepared: Prepared) -> None:
    open_count = int(src.value(f"select uniqExact(condition_id) from ({_open_conditions(src)})"))
    wanted = max(1, round(open_count * DAY_OPEN_SHARE))
    chosen = src.column(
        f"select distinct condition_id from ({src.whole_transactions()})"
        f" where condition_id in ({_open_conditions(src)})"
        " order by cityHash64({seed:UInt64}, 'day', condition_id), condition_id limit {n:UInt64}", n=wanted)
    if not chosen:
        raise ValueError("no open condition with a whole transaction to copy")
    # 1% of the rows in new fills of two legs each, and at least one on every chosen condition
    fills = max(len(chosen), round(prepared.figures["trade_rows_before"] * DAY_TRADE_SHARE / 2))
    rounds = -(-fills // len(chosen))
    # copy k = round r of the condition at index i of `chosen` (k = r * C + i), round r takes the
    # condition's (r mod its count)-th transaction in seeded order
    picked = (
        "with tx as (select condition_id, tx_hash, row_number() over (partition by condition_id"
        " order by cityHash64({seed:UInt64}, 'day tx', tx_hash), tx_hash) - 1 as ti"
        f" from ({src.whole_transactions('condition_id in {chosen:Array(String)}')})),"
        " per_condition as (select condition_id, count() as tn from tx group by condition_id),"
        " copies as (select condition_id, r % tn as ti,"
        "  indexOf({chosen:Array(String)}, condition_id) - 1 + r * length({chosen:Array(String)}) as k"
        "  from per_condition array join range({rounds:UInt32}) as r)"
        " select copies.k as k, tx.tx_hash as tx_hash, tx.condition_id as condition_id from copies"
        " inner join tx on tx.condition_id = copies.condition_id and tx.ti = copies.ti"
        " where copies.k < {fills:UInt64}")
    # after every flow of the sources: an hour later, a millisecond apart, in copy order
    at = f"addMilliseconds(addHours({src.newest}, 1), p.k)"
    rows = src.write_csv(out, "trades_raw", src.copies(picked, "day", at),
                         chosen=chosen, rounds=rounds, fills=fills)
    prepared.files["trades_raw"] = rows
    prepared.figures.update(open_conditions=open_count, conditions=len(chosen), transactions=fills,
                            new_trade_rows=rows)


def _resolutions(src: _Sources, out: Path, prepared: Prepared) -> None:
    conditions = int(src.value(f"select uniqExact(condition_id) from {src.markets}"))
    wanted = max(1, round(conditions * RESOLVED_SHARE))
    flows = (f"select condition_id, block_time from {src.trades}"
             f" union all select condition_id, block_time from {src.ctf}")
    sql = (
        f"with last_flow as (select condition_id, max(block_time) as last from ({flows})"
        " group by condition_id),"
        f" candidates as (select condition_id, any(outcome_count) as n from {src.markets}"
        f" where condition_id in ({_open_conditions(src)}) group by condition_id)"
        " select c.condition_id as condition_id,"
        "  arrayMap(i -> toUInt32(i = cityHash64({seed:UInt64}, 'winner', c.condition_id) % c.n),"
        "   range(c.n)) as payout_numerators,"
        "  addHours(l.last, 1) as resolved_at"
        " from candidates as c inner join last_flow as l on l.condition_id = c.condition_id"
        " where c.n > 0"
        " order by cityHash64({seed:UInt64}, 'resolve', c.condition_id), c.condition_id limit {n:UInt64}")
    rows = src.write_csv(out, "resolutions", sql, n=wanted)
    if not rows:
        raise ValueError("no open condition with flows to resolve")
    prepared.files["resolutions"] = rows
    prepared.figures.update(conditions=conditions, resolved=rows)


def _corrections(src: _Sources, out: Path, prepared: Prepared) -> None:
    wanted = max(1, round(prepared.figures["trade_rows_before"] * CORRECTED_SHARE))
    # a seeded hash of the id scatters the rows over every condition
    prepared.corrections = [str(i) for i in src.column(
        f"select trade_id from {src.trades}"
        " order by cityHash64({seed:UInt64}, 'correct', trade_id), trade_id limit {n:UInt64}", n=wanted)]
    # a copy 1 ms after its original, which is before the newest flow and, for a resolved
    # condition, before the resolution (so the copy is a valid fill)
    picked = (
        f"select number as k, tx_hash, condition_id from (select tx.condition_id as condition_id,"
        " tx.tx_hash as tx_hash, row_number() over (order by cityHash64({seed:UInt64}, 'late', tx.tx_hash),"
        " tx.tx_hash) - 1 as number"
        f" from ({src.whole_transactions()}) as tx"
        f" inner join (select tx_hash, max(block_time) as at from {src.trades} group by tx_hash) as b"
        "  on b.tx_hash = tx.tx_hash"
        f" left join (select condition_id, resolved_at from {src.resolutions}) as r"
        "  on r.condition_id = tx.condition_id"
        f" where addMilliseconds(b.at, 1) < if(r.condition_id = '', {src.newest}, r.resolved_at))"
        " where number < {late:UInt64}")
    rows = src.write_csv(out, "trades_raw", src.copies(picked, "late", "addMilliseconds(t.block_time, 1)"),
                         late=LATE_TRANSACTIONS)
    prepared.files["trades_raw"] = rows
    conditions = int(src.value(f"select uniqExact(condition_id) from {src.trades}"
                               " where trade_id in {ids:Array(String)}", ids=prepared.corrections))
    prepared.figures.update(corrected_rows=len(prepared.corrections), corrected_conditions=conditions,
                            late_transactions=rows // 2, late_trade_rows=rows)


def correct(client: Client, database: str, prepared: Prepared) -> int:
    """The scenario's fee corrections, in place: one ALTER TABLE ... UPDATE, waited for. Returns the
    number of rows it changed."""
    if not prepared.corrections:
        return 0
    trades = table(database, "trades_raw")
    parameters = {"seed": prepared.seed, "ids": prepared.corrections}
    before = client.query(f"select sum(fee_usd) from {trades} where trade_id in {{ids:Array(String)}}",
                          parameters=parameters).result_rows[0][0]
    client.command(
        f"alter table {trades} update fee_usd = fee_usd"
        " + toDecimal128(1 + cityHash64({seed:UInt64}, 'fee', trade_id) % 100, 6) / 10000"
        " where trade_id in {ids:Array(String)}",
        parameters=parameters, settings={"mutations_sync": 2})
    after = client.query(
        f"select sum(fee_usd), count() from {trades} where trade_id in {{ids:Array(String)}}",
        parameters=parameters).result_rows[0]
    if after[0] <= before:
        raise RuntimeError(f"the fee correction of {len(prepared.corrections)} rows changed nothing")
    return int(after[1])
