"""What `enrich run` and `enrich gates` need to find in the warehouse before dbt starts.

- Source tables: a home where nothing was loaded has none; dbt would fail with a long compile
  error, so one line says to run `enrich load` (or `enrich seed`) first.
- Result tables: before the first run, or after `enrich reset --all`, the gates would each fail on
  a missing table with a fix meant for bad data; one line says there are no results yet instead.
- Time types: block_time and resolved_at keep microseconds, DateTime64(6, 'UTC') (docs/domain.md
  section 7). Tables created before that hold DateTime64(3); the marts' enforced contracts would
  fail a batch halfway, so the run refuses up front (exit 2) and says to run `enrich run --fresh`
  once, which widens the source tables (create_sources) and rebuilds the results.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from enrich.errors import EnrichError, UsageError
from enrich.project import SOURCE_TABLES

TIME_TYPE = "DateTime64(6, 'UTC')"
# (table, column) pairs that carry a source time, sources and the tables built from them
SOURCE_TIMES = (("trades_raw", "block_time"), ("ctf_events", "block_time"), ("resolutions", "resolved_at"))
RESULT_TIMES = (("int_flows_unioned", "block_time"), ("int_flows_unioned", "resolved_at"),
                ("pnl", "block_time"), ("wallet_resolution_outcomes", "resolved_at"))
# what the loader creates: ctf_events is optional in a load, never absent from a loaded home
REQUIRED_SOURCES = SOURCE_TABLES


def _column_types(client: Client, database: str, tables: list[str]) -> dict[tuple[str, str], str]:
    rows = client.query(
        "select table, name, type from system.columns "
        "where database = {db:String} and table in {t:Array(String)}",
        parameters={"db": database, "t": tables},
    ).result_rows
    return {(table, name): type_ for table, name, type_ in rows}


def require_sources(client: Client, database: str) -> None:
    """Raise when the source tables are not there: nothing was loaded into this home."""
    present = {row[0] for row in client.query(
        "select name from system.tables where database = {db:String} and name in {t:Array(String)}",
        parameters={"db": database, "t": list(REQUIRED_SOURCES)},
    ).result_rows}
    missing = [name for name in REQUIRED_SOURCES if name not in present]
    if missing:
        raise EnrichError(f"nothing is loaded here (no {', '.join(missing)} in {database}): "
                          "run `enrich load DIR` (or `enrich seed`) first")


def require_results(client: Client, database: str, tables: tuple[str, ...]) -> None:
    """Raise when the steps' result tables are not all there: the gates have nothing to check."""
    present = {row[0] for row in client.query(
        "select name from system.tables where database = {db:String} and name in {t:Array(String)}",
        parameters={"db": database, "t": list(tables)},
    ).result_rows}
    missing = [name for name in tables if name not in present]
    if len(missing) == len(tables):
        raise EnrichError(f"no results yet (no {', '.join(missing)} in {database}), so no gate can be "
                          "checked: run `enrich run`, which builds them and ends with the gates")
    if missing:
        raise EnrichError(f"no {', '.join(missing)} in {database} yet (a run of one step, or an interrupted "
                          "run): run `enrich run` (`--resume` to continue one) before the gates")


def outdated_times(client: Client, database: str) -> list[str]:
    """The `table.column` time columns of the sources and results still of an older type."""
    pairs = SOURCE_TIMES + RESULT_TIMES
    types = _column_types(client, database, sorted({table for table, _ in pairs}))
    # int_flows_unioned.resolved_at is Nullable (NULL while unresolved): the time type inside counts
    current = (TIME_TYPE, f"Nullable({TIME_TYPE})")
    return [f"{table}.{column}" for table, column in pairs
            if (table, column) in types and types[(table, column)] not in current]


def check_times(client: Client, database: str, fresh: bool) -> bool:
    """Refuse a run over tables with millisecond times unless it is --fresh; True when the source
    tables need widening (a --fresh run does it before building)."""
    outdated = outdated_times(client, database)
    if outdated and not fresh:
        raise UsageError(f"{', '.join(outdated)} hold millisecond times from an older version; times now "
                         f"keep microseconds ({TIME_TYPE}): run `enrich run --fresh` once to widen the "
                         "source tables and rebuild the results")
    return any(name.split(".")[0] in dict(SOURCE_TIMES) for name in outdated)
