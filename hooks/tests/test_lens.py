"""The average-cost lens and accuracy by category (docs/domain.md section 8) on the seeded tiny
dataset: the closed-pair equality test prints how many pairs it checked, open markets realize
P&L under the lens, and the per-category mart adds up to the per-position rows.

The hand-computed cases are dbt unit tests (models/marts/_marts__models.yml); these tests run the
models on a whole generated dataset, where the expected values are recomputed here from other
tables, never copied from output.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import query, run_enrich, seeded_copy

EQUALITY_LINE = re.compile(r"avg-cost lens equality: (\d+) qualifying pairs, (\d+) mismatching")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, tiny_seed: Path) -> Path:
    home = seeded_copy(tiny_seed, tmp_path_factory.mktemp("lens") / "home")
    # Step E builds every model tagged step_e, wallet_category_accuracy among them
    run_enrich(home, "run", "--step", "all", "--fresh")
    return home


def test_equality_test_checks_closed_pairs_and_prints_their_count(home: Path) -> None:
    proc = run_enrich(home, "dbt", "test", "--select", "avg_cost_equals_realized_when_closed")
    printed = EQUALITY_LINE.search(proc.stdout)
    assert printed, proc.stdout
    qualifying, mismatching = map(int, printed.groups())
    # the same pairs counted independently: resolved, no fees, every outcome flat in both views
    (expected,) = query(home, """
        select count() from polymarket.pnl_positions
        where is_resolved = 1 and fees_usd = 0
          and arrayAll((n, a) -> n = 0 and a = 0, net_shares, open_amounts)
    """)[0]
    assert qualifying == expected > 0
    assert mismatching == 0
    assert "PASS avg_cost_equals_realized_when_closed" in proc.stdout


def test_open_markets_realize_pnl_under_the_lens_only(home: Path) -> None:
    rows = query(home, """
        select realized_pnl_usd, avg_cost_realized_pnl_usd
        from polymarket.pnl_positions
        where is_resolved = 0
    """)
    assert rows, "the tiny seed has unresolved conditions"
    assert all(realized is None for realized, _ in rows)
    assert sum(Decimal(lens) != 0 for _, lens in rows) > 0, "open markets carry sells"


def test_pair_lens_is_the_sum_of_its_flows_and_its_open_amounts(home: Path) -> None:
    flows = query(home, """
        select wallet_address, condition_id, outcome_index, avg_cost_realized_usd, avg_cost_shares
        from polymarket.pnl
    """)
    realized: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    amounts: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for wallet, condition, outcome, lens, shares in flows:
        realized[wallet, condition] += Decimal(lens)
        amounts[wallet, condition, outcome] += Decimal(shares)
    pairs = query(home, """
        select wallet_address, condition_id, avg_cost_realized_pnl_usd, open_amounts
        from polymarket.pnl_positions
    """)
    assert len(pairs) == len(realized)
    for wallet, condition, lens, open_amounts in pairs:
        assert Decimal(lens) == realized[wallet, condition]
        for outcome, amount in enumerate(open_amounts):
            held = amounts[wallet, condition, outcome]
            assert Decimal(amount) == held >= 0


def test_category_accuracy_adds_up_to_the_outcome_rows(home: Path) -> None:
    outcomes = query(home, """
        select wallet_address, category, result, pnl_usd from polymarket.wallet_resolution_outcomes
    """)
    counts: Counter[tuple[str, str, str]] = Counter()
    pnl: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for wallet, category, result, pnl_usd in outcomes:
        counts[wallet, category, result] += 1
        pnl[wallet, category] += Decimal(pnl_usd)
    rows = query(home, """
        select wallet_address, category, wins, losses, pushes, accuracy, held_at_resolution_pnl_usd
        from polymarket.wallet_category_accuracy
    """)
    assert len(rows) == len(pnl) and len({r[1] for r in rows}) > 1
    for wallet, category, wins, losses, pushes, accuracy, total in rows:
        assert (wins, losses, pushes) == tuple(counts[wallet, category, r] for r in ("won", "lost", "push"))
        assert accuracy == (None if wins + losses == 0 else pytest.approx(wins / (wins + losses)))
        assert Decimal(total) == pnl[wallet, category]
