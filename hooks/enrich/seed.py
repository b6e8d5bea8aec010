"""`enrich seed`: replace the source tables with a deterministic synthetic closed-system dataset.

The rows are generated inside the warehouse (statements in `enrich.seed_sql`) into a scratch
database, then the source tables are swapped in together (`enrich.swap`), so a failed or killed
seed leaves the previous contents untouched.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from string import Template
from typing import Any

from enrich import seed_sql, space, swap
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.errors import EnrichError
from enrich.swap import SOURCE_TABLES
from enrich.warehouse import connect, quote_identifier, resolve_target


@dataclass(frozen=True)
class Scale:
    """Wallet pools and the shape of the conditions; `pairs` is met exactly."""

    whales: int  # market makers, each in a large share of all conditions
    tiers: tuple[int, ...]  # trader wallets per tier ...
    tier_percent: tuple[int, ...]  # ... and the percentage of every condition's traders it supplies
    pairs: int
    size_min: int  # participants per condition: size_min + a heavy tail, at most size_cap
    size_scale: float
    size_cap: int
    mean_extra_actions: float  # actions a trader starts in a condition, beyond the first

    @property
    def wallets(self) -> int:
        return self.whales + sum(self.tiers)


# A tier's share of the traders of every condition. A tier must hold at least its share of the
# largest condition's traders, so a condition never needs one wallet twice.
TIER_PERCENT = (10, 20, 25, 25, 20)
# The reference scale of docs/domain.md: 2,839 wallets, 136,931 pairs. 10x and 100x scale both.
SCALES = {
    "tiny": Scale(whales=3, tiers=(3, 6, 12, 16, 20), tier_percent=TIER_PERCENT, pairs=400,
                  size_min=7, size_scale=4.0, size_cap=24, mean_extra_actions=2.1),
    "reference": Scale(whales=12, tiers=(39, 150, 450, 900, 1_288), tier_percent=TIER_PERCENT,
                       pairs=136_931, size_min=7, size_scale=10.0, size_cap=300, mean_extra_actions=2.1),
    "10x": Scale(whales=120, tiers=(390, 1_500, 4_500, 9_000, 12_880), tier_percent=TIER_PERCENT,
                 pairs=1_369_310, size_min=7, size_scale=10.0, size_cap=300, mean_extra_actions=2.1),
    # Polymarket's whole history: `make bench-100x`, not CI
    "100x": Scale(whales=1_200, tiers=(3_900, 15_000, 45_000, 90_000, 128_800), tier_percent=TIER_PERCENT,
                  pairs=13_693_100, size_min=7, size_scale=10.0, size_cap=300, mean_extra_actions=2.1),
}
MAX_MAKERS = 3

# seed_sql's working tables, `create table $s.X engine = MergeTree order by K` with a column list or
# `as <select>`: created through Ddl (ON CLUSTER and Replicated on a cluster target) and, for the
# second form, filled by an INSERT of the select, so that on a cluster the select runs once.
_CREATE = re.compile(r"\s*create table \$s\.(?P<name>\w+) \((?P<columns>.*)\)\s*engine = MergeTree "
                     r"order by (?P<order>[^\n]+)\s*", re.S)
# The comment a seeded source table carries (macros/source_loaded_at.sql reads it): the rows' times
# are historic by design, so `dbt source freshness` takes the seed's own time as their load time.
# Any later load or append swaps the table and replaces the comment with the swap's own.
SEED_MARK = "enrich seed: synthetic rows seeded at"
_CREATE_AS = re.compile(r"\s*create table \$s\.(?P<name>\w+) engine = MergeTree order by (?P<order>.+?) as\n"
                        r"(?P<select>.*)", re.S)


@dataclass(frozen=True)
class SeedSummary:
    scale: str
    seed: int
    database: str
    wallets: int
    pairs: int
    conditions: int
    resolved: int
    trades: int
    ctf_events: int
    seconds: float

    def describe(self) -> str:
        return (
            f"seeded {self.database} ({self.scale}, seed {self.seed}) in {self.seconds:.1f} s: "
            f"{self.wallets:,} wallets, {self.conditions:,} conditions "
            f"({self.resolved:,} resolved, {self.conditions - self.resolved:,} unresolved), "
            f"{self.pairs:,} pairs, {self.trades:,} trades, {self.ctf_events:,} ctf events"
        )


def seed(config: Config, scale: str = "reference", seed: int = 42) -> SeedSummary:
    if scale not in SCALES:
        raise EnrichError(f"unknown seed scale {scale!r}; choose one of {', '.join(SCALES)}")
    if not 0 <= seed < 2**64:
        raise EnrichError(f"--seed must be between 0 and 2**64 - 1, got {seed}")
    started = time.monotonic()
    DbtSession(config).run_operation("create_sources")
    target = resolve_target(config)
    client = connect(target)
    ddl = Ddl.for_target(client, target)
    with space.reported(target):
        swap.recover_interrupted_load(client, ddl)
        generate(ddl, SCALES[scale], seed)
    counts = client.query(_sql(seed_sql.SUMMARY, target.database)).result_rows[0]
    wallets, pairs, conditions, resolved, trades, ctf_events = (int(v) for v in counts)
    return SeedSummary(scale, seed, target.database, wallets, pairs, conditions, resolved, trades,
                       ctf_events, time.monotonic() - started)


def generate(ddl: Ddl, scale: Scale, seed: int) -> None:
    """Build the dataset in `<database>__seed`, swap it into the source tables, drop the scratch."""
    client, database = ddl.client, ddl.database
    scratch = f"{database}__seed"
    parameters: dict[str, Any] = {
        "seed": seed,
        "whales": scale.whales,
        "tier_sizes": list(scale.tiers),
        "tier_cum_percent": list(accumulate(scale.tier_percent)),
        "tier_bases": [scale.whales + base for base in accumulate(scale.tiers, initial=0)][:-1],
        "target_pairs": scale.pairs,
        "size_min": scale.size_min,
        "size_scale": scale.size_scale,
        "size_cap": scale.size_cap,
        # Every condition has at least size_min participants, so this many candidates always suffice.
        "max_conditions": scale.pairs // scale.size_min + 1,
        "max_makers": min(MAX_MAKERS, scale.whales),
        "mean_extra_actions": scale.mean_extra_actions,
    }

    # INSERT ... SELECT sorts and writes its parts on one thread unless told otherwise; the server
    # says how many it may use (this machine's CPU count says nothing about the server's).
    threads = client.query("select getSetting('max_threads')").result_rows[0][0]
    settings = {"max_insert_threads": int(threads)}

    def bound(statement: str) -> tuple[str, dict[str, Any] | None]:
        sql = _sql(statement, database)
        # Without a {name:Type} placeholder the client falls back to %-formatting, which `%` breaks.
        return sql, {name: value for name, value in parameters.items() if f"{{{name}:" in sql} or None

    def run(statement: str) -> None:
        if created := _CREATE.fullmatch(statement):
            ddl.create_table(created["name"], created["columns"], "MergeTree", created["order"],
                             if_not_exists=False, database=scratch)
            return
        if created := _CREATE_AS.fullmatch(statement):
            sql, used = bound(f"describe ({created['select']})")
            columns = [f"{quote_identifier(name)} {type_}" for name, type_, *_ in
                       client.query(sql, parameters=used).result_rows]
            ddl.create_table(created["name"], ", ".join(columns), "MergeTree", created["order"],
                             if_not_exists=False, database=scratch)
            statement = f"insert into $s.{quote_identifier(created['name'])}\n{created['select']}"
        elif statement.lstrip().lower().startswith(("create", "drop", "alter", "rename", "exchange")):
            raise EnrichError(f"seed_sql has DDL seed.py does not render for the target: {statement[:80]!r}")
        sql, used = bound(statement)
        client.command(sql, parameters=used, settings=settings)

    ddl.drop_database(scratch)
    try:
        ddl.create_database(scratch)
        for statement in (seed_sql.CONDITIONS, seed_sql.ACTIONS, seed_sql.LEGS, *seed_sql.TRADER_LEGS,
                          seed_sql.MAKERS, *seed_sql.MAKER_LEGS, seed_sql.REDEEMS):
            run(statement)
        for name in SOURCE_TABLES:
            ddl.create_table_like(name, name, database=scratch, like_database=database)
        for statement in (seed_sql.TRADES, seed_sql.CTF_EVENTS, seed_sql.MARKETS_DIM, seed_sql.RESOLUTIONS):
            run(statement)
        # Into the load's scratch tables, which the swap takes in all together or not at all.
        for name in SOURCE_TABLES:
            ddl.exchange(name, swap.prepare(ddl, name), database=scratch, second_database=database)
        swap.commit(client, ddl, list(SOURCE_TABLES))
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name in SOURCE_TABLES:
            ddl.comment(name, f"{SEED_MARK} {stamp}")
    finally:
        ddl.drop_database(scratch)
        swap.recover_interrupted_load(client, ddl)


def _sql(statement: str, database: str) -> str:
    return Template(statement).substitute(
        s=quote_identifier(f"{database}__seed"), t=quote_identifier(database)
    )
