"""DDL for the tables the project creates outside dbt's materializations (sources, scratch and
state tables), rendered the way dbt-clickhouse renders its own for the same target.

On a `cluster` target every statement carries `ON CLUSTER` when dbt-clickhouse would add it
(`ClickHouseRelation.get_on_cluster`: a cluster is configured and the database engine is not
Replicated, where DDL replicates by itself), and MergeTree-family engines become their Replicated
variants, so every node holds the same table rather than an unrelated copy of its own. System
tables whose answer must cover every node are read through `clusterAllReplicas`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.binding import format_str
from clickhouse_connect.driver.client import Client

from enrich.warehouse import Target, quote_identifier, table

_MERGE_TREE = re.compile(r"^(Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree\b")


def on_cluster_for(cluster: str, database_engine: str | None) -> bool:
    """dbt-clickhouse's `ClickHouseRelation.get_on_cluster`, without importing dbt (held equal to
    it by hooks/tests/test_profile.py): ON CLUSTER unless a Replicated database replicates DDL."""
    return bool(cluster.strip()) and "replicated" not in (database_engine or "").lower()


@dataclass(frozen=True)
class Ddl:
    """DDL statements for one target, sent through one client."""

    client: Client
    database: str
    cluster: str | None = None
    # Replicated MergeTree engines when the target is a cluster (set with `cluster`)
    replicated: bool = False
    # The configured cluster, whose replicas system-table reads cover even when DDL needs no
    # ON CLUSTER (a Replicated database engine replicates DDL, not system.parts)
    replicas: str | None = None

    @classmethod
    def for_target(cls, client: Client, target: Target) -> Ddl:
        creds = target.credentials
        cluster = getattr(creds, "cluster", None) or None
        on_cluster = bool(cluster) and on_cluster_for(cluster, getattr(creds, "database_engine", None))
        return cls(client, target.database, cluster if on_cluster else None, replicated=bool(cluster),
                   replicas=cluster)

    @property
    def on_cluster(self) -> str:
        return f" on cluster {quote_identifier(self.cluster)}" if self.cluster else ""

    def engine(self, engine: str) -> str:
        """ENGINE as configured for this target: `MergeTree` becomes `ReplicatedMergeTree` on a cluster."""
        if self.replicated and _MERGE_TREE.match(engine):
            return "Replicated" + engine
        return engine

    def name(self, identifier: str, database: str | None = None) -> str:
        return table(database or self.database, identifier)

    def create_database(self, database: str) -> None:
        self.client.command(f"create database if not exists {quote_identifier(database)}{self.on_cluster}")

    def create_table(self, identifier: str, columns: str, engine: str, order_by: str,
                     if_not_exists: bool = True, database: str | None = None, comment: str = "",
                     settings: dict[str, Any] | None = None) -> None:
        """`create table` with COLUMNS (the parenthesised list's inside) and the target's engine."""
        exists = " if not exists" if if_not_exists else ""
        engine_sql = self.engine(engine)
        if "(" not in engine_sql:
            engine_sql += "()"
        statement = (f"create table{exists} {self.name(identifier, database)}{self.on_cluster} ({columns})"
                     f" engine = {engine_sql} order by {order_by}")
        if comment:
            # DDL takes no bound parameters: the driver's own quoting
            statement += f" comment {format_str(comment)}"
        self.client.command(statement, settings=settings)

    def create_table_like(self, identifier: str, like: str, database: str | None = None,
                          like_database: str | None = None) -> None:
        """An empty copy of LIKE's structure and engine (the engine is already the target's)."""
        self.client.command(f"create table {self.name(identifier, database)}{self.on_cluster}"
                            f" as {self.name(like, like_database)}")

    def drop_table(self, identifier: str, database: str | None = None) -> None:
        # SYNC: the space is freed now, not when a later process opens the engine
        self.client.command(f"drop table if exists {self.name(identifier, database)}{self.on_cluster} sync")

    def drop_database(self, database: str) -> None:
        self.client.command(f"drop database if exists {quote_identifier(database)}{self.on_cluster} sync")

    def exchange(self, first: str, second: str, database: str | None = None,
                 second_database: str | None = None) -> None:
        self.client.command(f"exchange tables {self.name(first, database)} and "
                            f"{self.name(second, second_database or database)}{self.on_cluster}")

    def rename(self, source: str, destination: str, database: str | None = None) -> None:
        self.client.command(f"rename table {self.name(source, database)} to "
                            f"{self.name(destination, database)}{self.on_cluster}")

    def comment(self, identifier: str, text: str, database: str | None = None) -> None:
        """Set a table's comment: metadata, not a mutation."""
        self.client.command(f"alter table {self.name(identifier, database)}{self.on_cluster}"
                            f" modify comment {format_str(text)}")

    def shards(self) -> int:
        """How many shards the configured cluster has (1 without a cluster)."""
        if not self.replicas:
            return 1
        rows = self.client.query(
            "select uniqExact(shard_num) from system.clusters where cluster = {c:String}",
            parameters={"c": self.replicas}).result_rows
        return max(1, int(rows[0][0]))

    def system(self, name: str) -> str:
        """A system table as seen by every node: `clusterAllReplicas` on a cluster."""
        if self.replicas:
            return f"clusterAllReplicas({quote_identifier(self.replicas)}, system.{quote_identifier(name)})"
        return f"system.{quote_identifier(name)}"
