"""What test_reliability.py and test_kill_loop.py share: the seeded home of one uninterrupted run,
and the checksums and checkpoint every interrupted run is compared with."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import embedded, plain, run_enrich, seeded_copy, state_file

from enrich.checkpoints import Checkpoint, read_local

DB = "polymarket"
RESULT_TABLES = ("pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy")
STEP_D_TABLES = ("pnl", "pnl_positions")
TIMESTAMPED = ("pnl", "pnl_positions", "wallet_resolution_outcomes")
LEFTOVERS_SQL = (f"select name from system.tables where database = '{DB}'"
                 " and (name like '%\\_\\_dbt\\_%' or name like '%\\_\\_load')")


def ask(home: Path, queries: dict[str, str], parameters: dict | None = None) -> dict[str, list[list]]:
    """Several queries against HOME's warehouse with one engine open for all."""
    with embedded(home) as client:
        return {name: plain(client.query(text, parameters=parameters or {}).result_rows)
                for name, text in queries.items()}


def checksum_sql(name: str) -> str:
    """Count and order-independent content hash of a table, without its build timestamp."""
    columns = "* except (computed_at)" if name in TIMESTAMPED else "*"
    return f"select count(), sum(cityHash64(tuple(*))) from (select {columns} from {DB}.{name})"


def checksums(home: Path, tables: tuple[str, ...]) -> dict[str, list]:
    return {name: rows[0] for name, rows in ask(home, {t: checksum_sql(t) for t in tables}).items()}


def state(home: Path) -> Checkpoint | None:
    """The local checkpoint; reading it raises if a kill ever left it half-written."""
    return read_local(state_file(home))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, tiny_seed: Path) -> tuple[Path, dict[str, list]]:
    """A seeded home and the result tables of one uninterrupted run (one batch per step): what
    every interrupted run must end up equal to. Tests sharing it start with --fresh."""
    home = seeded_copy(tiny_seed, tmp_path_factory.mktemp("seeded"))
    run_enrich(home, "run", "--step", "all")
    sums = checksums(home, RESULT_TABLES)
    assert all(count > 0 for count, _ in sums.values()), sums
    return home, sums
