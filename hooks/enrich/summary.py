"""The results in a few lines: what `enrich run` prints after the gates, `enrich status` shows and
`enrich report` draws.

Two queries on the marts, values bound as parameters. Money stays Decimal from the warehouse to the
printed digits and is rounded once, half-even, to the 6 decimals of the collateral (docs/domain.md,
sections 3 and 7); accuracy is a ratio (Float64 in the marts) and is printed to 4 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from enrich.errors import EnrichError
from enrich.warehouse import table

# A wallet with a handful of resolved positions can have any accuracy by luck; the accuracy
# leaderboard counts only wallets with at least this many (`--min-resolved`).
DEFAULT_MIN_RESOLVED = 10
TOP = 5
# what the summary reads
MARTS = ("pnl_positions", "wallet_accuracy")
USD_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Leader:
    rank: int
    wallet: str
    pnl_usd: Decimal | None
    accuracy: float | None
    wins: int
    losses: int
    pushes: int
    positions: int

    def to_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "wallet_address": self.wallet, "pnl_usd": usd_text(self.pnl_usd),
                "accuracy": self.accuracy, "wins": self.wins, "losses": self.losses,
                "pushes": self.pushes, "positions": self.positions}


@dataclass(frozen=True)
class Summary:
    pairs: int
    resolved_pairs: int
    wallets: int
    total_pnl_usd: Decimal
    fees_usd: Decimal
    # wallets with a won or lost position: the ones the quartiles are taken over
    rated_wallets: int
    # Q1, median, Q3 with linear interpolation between ranks (quantilesExactInclusive,
    # Python's statistics.quantiles(method='inclusive')); None without a rated wallet
    quartiles: tuple[float, float, float] | None
    min_resolved: int
    top_pnl: tuple[Leader, ...]
    top_accuracy: tuple[Leader, ...]

    def to_json(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "resolved_pairs": self.resolved_pairs, "wallets": self.wallets,
                "total_realized_pnl_usd": usd_text(self.total_pnl_usd), "fees_usd": usd_text(self.fees_usd),
                "rated_wallets": self.rated_wallets,
                "accuracy_quartiles": list(self.quartiles) if self.quartiles else None,
                "min_resolved": self.min_resolved,
                "top_by_pnl": [w.to_json() for w in self.top_pnl],
                "top_by_accuracy": [w.to_json() for w in self.top_accuracy]}


def missing_marts(client: Client, database: str, needed: tuple[str, ...] = MARTS) -> list[str]:
    present = {r[0] for r in client.query(
        "select name from system.tables where database = {db:String}", parameters={"db": database}
    ).result_rows}
    return [name for name in needed if name not in present]


def require_marts(client: Client, database: str, needed: tuple[str, ...] = MARTS) -> None:
    missing = missing_marts(client, database, needed)
    if missing:
        raise EnrichError(f"no results yet in database {database} ({', '.join(missing)} missing); "
                          "run `enrich run` first")


def collect(client: Client, database: str, min_resolved: int = DEFAULT_MIN_RESOLVED) -> Summary:
    require_marts(client, database)
    positions, accuracy = table(database, "pnl_positions"), table(database, "wallet_accuracy")
    # Decimal256 sums: a Decimal128 sum wraps around silently (docs/domain.md section 7)
    totals = client.query(
        f"""
        select
            (select count() from {positions}),
            (select countIf(is_resolved = 1) from {positions}),
            (select uniqExact(wallet_address) from {positions}),
            (select sum(toDecimal256(realized_pnl_usd, 12)) from {positions} where is_resolved = 1),
            (select sum(toDecimal256(fees_usd, 6)) from {positions} where is_resolved = 1),
            (select count() from {accuracy} where accuracy is not null),
            (select quantilesExactInclusive(0.25, 0.5, 0.75)(accuracy) from {accuracy}
             where accuracy is not null)
        """
    ).result_rows[0]
    pairs, resolved, wallets, pnl, fees, rated, quartiles = totals
    columns = "wallet_address, total_resolved_pnl_usd, accuracy, wins, losses, pushes, positions"
    leaders = client.query(
        f"""
        (select 'pnl' as board,
                row_number() over (order by total_resolved_pnl_usd desc, wallet_address) as rank, {columns}
         from {accuracy} where total_resolved_pnl_usd is not null
         order by rank limit {{top:UInt32}})
        union all
        (select 'accuracy' as board,
                row_number() over (order by accuracy desc, positions desc, wallet_address) as rank, {columns}
         from {accuracy} where accuracy is not null and positions >= {{min_resolved:UInt64}}
         order by rank limit {{top:UInt32}})
        """,
        parameters={"top": TOP, "min_resolved": min_resolved},
    ).result_rows
    boards: dict[str, list[Leader]] = {"pnl": [], "accuracy": []}
    for board, rank, wallet, wallet_pnl, ratio, wins, losses, pushes, count in leaders:
        boards[board].append(Leader(int(rank), wallet, wallet_pnl, ratio, int(wins), int(losses),
                                    int(pushes), int(count)))
    return Summary(
        pairs=int(pairs), resolved_pairs=int(resolved), wallets=int(wallets),
        total_pnl_usd=pnl if pnl is not None else Decimal(0),
        fees_usd=fees if fees is not None else Decimal(0),
        rated_wallets=int(rated),
        quartiles=tuple(float(q) for q in quartiles) if rated else None,  # type: ignore[arg-type]
        min_resolved=min_resolved,
        top_pnl=tuple(sorted(boards["pnl"], key=lambda w: w.rank)),
        top_accuracy=tuple(sorted(boards["accuracy"], key=lambda w: w.rank)),
    )


def usd(value: Decimal | None) -> Decimal | None:
    """A USD amount as printed: half-even to 6 decimals, the unit the amounts carry."""
    return None if value is None else Decimal(value).quantize(USD_PLACES, rounding=ROUND_HALF_EVEN)


def usd_text(value: Decimal | None, grouped: bool = False) -> str | None:
    rounded = usd(value)
    if rounded is None:
        return None
    return f"{rounded:,}" if grouped else str(rounded)


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def lines(document: dict[str, Any]) -> list[str]:
    """The summary as printed, from its JSON form (Summary.to_json, as `enrich status --json` has it)."""
    d = document

    def money(text: str | None) -> str:
        return "-" if text is None else usd_text(Decimal(text), grouped=True) or "-"

    out = [
        "Results",
        f"  {d['pairs']:,} pairs ({d['resolved_pairs']:,} resolved), {d['wallets']:,} wallets",
        f"  total realized P&L {money(d['total_realized_pnl_usd'])} USD over the resolved pairs "
        f"(fees paid {money(d['fees_usd'])} USD)",
    ]
    if d["accuracy_quartiles"]:
        q1, median, q3 = d["accuracy_quartiles"]
        out.append(f"  accuracy quartiles over {d['rated_wallets']:,} wallets with a won or lost position: "
                   f"Q1 {ratio_text(q1)}, median {ratio_text(median)}, Q3 {ratio_text(q3)}")
    else:
        out.append("  accuracy quartiles: no wallet has a won or lost position yet")
    out.append(f"  top {TOP} wallets by realized P&L:")
    out += [f"    {w['rank']}. {w['wallet_address']}  {money(w['pnl_usd']):>20} USD  "
            f"accuracy {ratio_text(w['accuracy'])}, {w['positions']:,} resolved positions"
            for w in d["top_by_pnl"]]
    out.append(f"  top {TOP} wallets by accuracy, at least {d['min_resolved']:,} resolved positions "
               "(--min-resolved):")
    out += [f"    {w['rank']}. {w['wallet_address']}  {ratio_text(w['accuracy'])}  {w['wins']:,} won, "
            f"{w['losses']:,} lost, {w['pushes']:,} push  P&L {money(w['pnl_usd'])} USD"
            for w in d["top_by_accuracy"]]
    if not d["top_by_accuracy"]:
        out.append("    (no wallet has that many)")
    return out
