"""Waiting for ClickHouse mutations (ALTER ... UPDATE/DELETE) on the project's databases to finish.

A batch that rewrites partitions while a mutation is still running on them competes with it for
merges; the runner waits here before it starts and every few batches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from enrich.errors import EnrichError


@dataclass(frozen=True)
class MutationPolicy:
    threshold: int = 0
    timeout: float = 600.0
    every: int = 5
    poll: float = 1.0

    @classmethod
    def from_env(cls) -> MutationPolicy:
        """ENRICH_MUTATIONS_THRESHOLD / _TIMEOUT (seconds) / _EVERY (batches) override the defaults."""
        def read(name: str, default: float, kind: type) -> float:
            raw = os.environ.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise EnrichError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
            if value < 0:
                raise EnrichError(f"{name} must not be negative, got {raw!r}")
            return value

        return cls(
            threshold=int(read("ENRICH_MUTATIONS_THRESHOLD", cls.threshold, int)),
            timeout=read("ENRICH_MUTATIONS_TIMEOUT", cls.timeout, float),
            every=max(1, int(read("ENRICH_MUTATIONS_EVERY", cls.every, int))),
        )


def pending(client: Client, databases: list[str],
            source: str = "system.mutations") -> list[tuple[str, str, str, str]]:
    """(database, table, mutation_id, latest_fail_reason) of every unfinished mutation.

    SOURCE is `Ddl.system("mutations")` on a cluster: a mutation pending on any replica counts.
    """
    return client.query(
        f"select database, table, mutation_id, max(latest_fail_reason) from {source}"
        " where is_done = 0 and database in {databases:Array(String)}"
        " group by database, table, mutation_id order by database, table, mutation_id",
        parameters={"databases": databases},
    ).result_rows


def wait_for_mutations(client: Client, databases: list[str], policy: MutationPolicy,
                       log: Callable[[str], None], stop: Callable[[], bool] = lambda: False,
                       source: str = "system.mutations") -> int:
    """Wait until at most `policy.threshold` mutations are unfinished; returns the count last seen.

    Raises EnrichError after `policy.timeout` seconds; returns early when `stop()` turns true.
    """
    deadline = time.monotonic() + policy.timeout
    reported: set[tuple[str, str]] = set()
    announced = False
    while True:
        rows = pending(client, databases, source)
        for database, table, mutation_id, reason in rows:
            if reason and (mutation_id, reason) not in reported:
                reported.add((mutation_id, reason))
                log(f"mutation {mutation_id} on {database}.{table} is failing: {reason}")
        if len(rows) <= policy.threshold or stop():
            return len(rows)
        if time.monotonic() >= deadline:
            names = ", ".join(f"{d}.{t} {m}" for d, t, m, _ in rows[:5])
            raise EnrichError(
                f"{len(rows)} mutation(s) still unfinished after {policy.timeout:.0f}s ({names}); "
                "see system.mutations (latest_fail_reason), KILL MUTATION a stuck one, or raise "
                "ENRICH_MUTATIONS_TIMEOUT"
            )
        if not announced:
            log(f"waiting for {len(rows)} unfinished mutation(s) (threshold {policy.threshold})")
            announced = True
        time.sleep(policy.poll)
