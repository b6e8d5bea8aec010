"""Step E end to end on hand-made data: won / lost / push per (wallet, condition) and per wallet.

The dataset is a closed system (every fill has its counterparty, every SPLIT its legs), so the
gates pass; every expected value below is computed by hand from docs/domain.md.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import query, run_enrich

TRADE_COLUMNS = ["trade_id", "tx_hash", "block_time", "wallet_address", "market_id", "condition_id",
                 "outcome_index", "side", "shares", "usd_value", "fee_usd"]
CTF_COLUMNS = ["event_id", "block_time", "wallet_address", "market_id", "condition_id", "outcome_index",
               "event_type", "shares", "usd_value"]
MARKET_COLUMNS = ["market_id", "condition_id", "question", "category", "outcome_count", "outcome_labels",
                  "end_date"]
RESOLUTION_COLUMNS = ["condition_id", "payout_numerators", "resolved_at"]


def wallet(tag: str) -> str:
    return "0x" + tag * 40


def condition(number: int) -> str:
    return "0x" + str(number) * 64


A, B, M, C = wallet("a"), wallet("b"), wallet("d"), wallet("c")
H, R, F, F2 = wallet("1"), wallet("2"), wallet("3"), wallet("4")
X, Y, W, Q, P = wallet("5"), wallet("6"), wallet("7"), wallet("8"), wallet("9")
RESOLVED_AT = "2024-01-02 00:00:00.000"


def at(minute: int) -> str:
    return f"2024-01-01 00:{minute:02d}:00.000"


class Dataset:
    def __init__(self) -> None:
        self.trades: list[list[str]] = []
        self.ctf: list[list[str]] = []
        self.markets: list[list[str]] = []
        self.resolutions: list[list[str]] = []

    def fill(self, cond: int, minute: int, buyer: str, seller: str | None, outcome: int, shares: str,
             usd: str) -> None:
        """A fill: the buyer's BUY row and, when the seller is a wallet, its SELL row."""
        market = f"m{cond}"
        tx = f"tx-{cond}-{len(self.trades)}"
        self.trades.append([f"{tx}-b", tx, at(minute), buyer, market, condition(cond), str(outcome), "BUY",
                            shares, usd, "0"])
        if seller is not None:
            self.trades.append([f"{tx}-s", tx, at(minute), seller, market, condition(cond), str(outcome),
                                "SELL", shares, usd, "0"])

    def ctf_event(self, cond: int, minute: str, who: str, kind: str, outcomes: int, shares: str,
                  usd_per_leg: str, only: int | None = None) -> None:
        for outcome in range(outcomes) if only is None else [only]:
            self.ctf.append([f"ev-{cond}-{len(self.ctf)}", minute, who, f"m{cond}", condition(cond),
                             str(outcome), kind, shares, usd_per_leg])

    def market(self, cond: int, labels: list[str], category: str) -> None:
        quoted = "[" + ",".join(f"'{label}'" for label in labels) + "]"
        self.markets.append([f"m{cond}", condition(cond), f"question {cond}", category, str(len(labels)),
                             quoted, "2024-02-01 00:00:00.000"])

    def resolve(self, cond: int, payout: list[int]) -> None:
        self.resolutions.append([condition(cond), "[" + ",".join(map(str, payout)) + "]", RESOLVED_AT])

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name, columns, rows in [("trades_raw", TRADE_COLUMNS, self.trades),
                                    ("ctf_events", CTF_COLUMNS, self.ctf),
                                    ("markets_dim", MARKET_COLUMNS, self.markets),
                                    ("resolutions", RESOLUTION_COLUMNS, self.resolutions)]:
            with open(directory / f"{name}.csv", "w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(columns)
                writer.writerows(rows)
        return directory


def worked_example(data: Dataset, cond: int) -> None:
    """docs/domain.md section 3: A and B mint 100 sets; M splits 100 and sells YES to A; A sells 50 to C."""
    data.fill(cond, 1, A, None, 0, "100", "40")
    data.fill(cond, 1, B, None, 1, "100", "60")
    data.ctf_event(cond, at(2), M, "SPLIT", 2, "100", "50")
    data.fill(cond, 3, A, M, 0, "100", "60")
    # A's sale in its EIP-55 checksummed spelling: the same wallet (docs/domain.md section 7)
    data.fill(cond, 4, C, "0x" + A[2:].upper(), 0, "50", "35")


def dataset(resolve_fifty_fifty: bool = True) -> Dataset:
    data = Dataset()
    for cond, payout in [(1, [1, 0]), (2, [1, 1]), (3, [0, 1])]:
        worked_example(data, cond)
        data.market(cond, ["Yes", "No"], "politics")
        if cond != 2 or resolve_fifty_fifty:
            data.resolve(cond, payout)
    # c4, YES wins: H splits 100 and sells 20 YES to F and 20 NO to F2, so it holds 80 / 80 (a tie).
    # F resells its 20 YES to R (flat: no row); R redeems them after resolution (still held: won).
    data.ctf_event(4, at(1), H, "SPLIT", 2, "100", "50")
    data.fill(4, 2, F, H, 0, "20", "10")
    data.fill(4, 3, F2, H, 1, "20", "10")
    data.fill(4, 4, R, F, 0, "20", "12")
    data.ctf_event(4, "2024-01-03 00:00:00.000", R, "REDEEM", 2, "20", "20", only=0)
    # after the resolution H merges 10 of its sets back (valid, P&L 0): still 80 / 80 held at it
    data.ctf_event(4, "2024-01-03 00:00:00.000", H, "MERGE", 2, "10", "5")
    # A REDEEM paying 9 for 10 winning tokens (worth 10): quarantined, A's numbers unchanged
    data.ctf_event(1, "2024-01-03 00:00:00.000", A, "REDEEM", 2, "10", "9", only=0)
    data.market(4, ["Yes", "No"], "sports")
    data.resolve(4, [1, 0])
    # c5, three outcomes, Carol wins: a mint match of 50 sets at 0.2 / 0.3 / 0.5.
    data.fill(5, 1, W, None, 0, "50", "10")
    data.fill(5, 1, Y, None, 1, "50", "15")
    data.fill(5, 1, X, None, 2, "50", "25")
    data.market(5, ["Alice", "Bob", "Carol"], "weather")
    data.resolve(5, [0, 0, 1])
    # c6, missing from markets_dim (gate 1 warns): P splits 10 and sells the YES to Q for 6.
    data.ctf_event(6, at(1), P, "SPLIT", 2, "10", "5")
    data.fill(6, 2, Q, P, 0, "10", "6")
    data.resolve(6, [1, 0])
    # c7 is never resolved: no outcome rows.
    data.fill(7, 1, A, None, 0, "10", "4")
    data.fill(7, 1, B, None, 1, "10", "6")
    data.market(7, ["Yes", "No"], "politics")
    return data


# (wallet, condition) -> final_outcome_index, final_side, held_shares, p_final, result, pnl_usd
EXPECTED = {
    (A, 1): (0, "Yes", "150", "1", "won", "85"),
    (B, 1): (1, "No", "100", "0", "lost", "-60"),
    (M, 1): (1, "No", "100", "0", "lost", "-40"),
    (C, 1): (0, "Yes", "50", "1", "won", "15"),
    (A, 2): (0, "Yes", "150", "0.5", "push", "10"),
    (B, 2): (1, "No", "100", "0.5", "push", "-10"),
    (M, 2): (1, "No", "100", "0.5", "push", "10"),
    (C, 2): (0, "Yes", "50", "0.5", "push", "-10"),
    (A, 3): (0, "Yes", "150", "0", "lost", "-65"),
    (B, 3): (1, "No", "100", "1", "won", "40"),
    (M, 3): (1, "No", "100", "1", "won", "60"),
    (C, 3): (0, "Yes", "50", "0", "lost", "-35"),
    (H, 4): (0, "Yes", "80", "1", "push", "0"),
    (R, 4): (0, "Yes", "20", "1", "won", "8"),
    (F2, 4): (1, "No", "20", "0", "lost", "-10"),
    (X, 5): (2, "Carol", "50", "1", "won", "25"),
    (Y, 5): (1, "Bob", "50", "0", "lost", "-15"),
    (W, 5): (0, "Alice", "50", "0", "lost", "-10"),
    (Q, 6): (0, "outcome 0", "10", "1", "won", "4"),
    (P, 6): (1, "outcome 1", "10", "0", "lost", "-4"),
}


def outcome_rows(home: Path) -> dict[tuple[str, int], tuple]:
    rows = query(home, "select wallet_address, condition_id, final_outcome_index, final_side, "
                       "toString(held_shares), toString(p_final), result, won, toString(pnl_usd), category "
                       "from polymarket.wallet_resolution_outcomes")
    by_pair = {}
    for wallet_address, condition_id, *rest in rows:
        by_pair[(wallet_address, int(condition_id[2]))] = tuple(rest)
    return by_pair


def assert_outcomes(actual: dict[tuple[str, int], tuple], expected: dict[tuple[str, int], tuple]) -> None:
    assert set(actual) == set(expected)
    for pair, (index, side, held, p_final, result, pnl) in expected.items():
        got_index, got_side, got_held, got_p, got_result, got_won, got_pnl, _ = actual[pair]
        assert (got_index, got_side, got_result) == (index, side, result), pair
        assert Decimal(got_held) == Decimal(held), pair
        assert Decimal(got_p) == Decimal(p_final), pair
        assert Decimal(got_pnl) == Decimal(pnl), pair
        assert got_won == (1 if result == "won" else 0), pair


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outcomes")
    run_enrich(root / "home", "load", str(dataset().write(root / "data")))
    proc = run_enrich(root / "home", "run", "--step", "all", "--fresh")
    assert "⚠️ 1 markets_missing_dim" in proc.stdout
    return root / "home"


def test_outcome_rows_follow_the_won_lost_push_rules(home: Path) -> None:
    assert_outcomes(outcome_rows(home), EXPECTED)


def test_outcomes_carry_the_pair_pnl_and_category(home: Path) -> None:
    rows = outcome_rows(home)
    assert rows[(Q, 6)][-1] == ""  # market missing from markets_dim
    assert rows[(X, 5)][-1] == "weather"
    mismatched = query(home, "select count() from polymarket.wallet_resolution_outcomes o "
                             "left join polymarket.pnl_positions p using (wallet_address, condition_id) "
                             "where o.pnl_usd != p.realized_pnl_usd or o.pnl_usd is null")
    assert mismatched == [(0,)]


def test_wallet_accuracy(home: Path) -> None:
    rows = query(home, "select wallet_address, wins, losses, pushes, positions, accuracy, resolved_pairs, "
                       "toString(total_resolved_pnl_usd), toString(held_at_resolution_pnl_usd) "
                       "from polymarket.wallet_accuracy")
    actual = {r[0]: r[1:] for r in rows}
    # wins, losses, pushes, positions, accuracy, resolved pairs, P&L of all of them, P&L of the
    # positions held at resolution. F bought 20 YES of c4 for 10 and sold them for 12 before the
    # resolution: flat, no outcome row, but a resolved pair worth +2.
    expected = {
        A: (1, 1, 1, 3, 0.5, 3, "30", "30"), B: (1, 1, 1, 3, 0.5, 3, "-30", "-30"),
        M: (1, 1, 1, 3, 0.5, 3, "30", "30"), C: (1, 1, 1, 3, 0.5, 3, "-30", "-30"),
        H: (0, 0, 1, 1, None, 1, "0", "0"), R: (1, 0, 0, 1, 1.0, 1, "8", "8"),
        F2: (0, 1, 0, 1, 0.0, 1, "-10", "-10"), F: (0, 0, 0, 0, None, 1, "2", "0"),
        X: (1, 0, 0, 1, 1.0, 1, "25", "25"), Y: (0, 1, 0, 1, 0.0, 1, "-15", "-15"),
        W: (0, 1, 0, 1, 0.0, 1, "-10", "-10"), Q: (1, 0, 0, 1, 1.0, 1, "4", "4"),
        P: (0, 1, 0, 1, 0.0, 1, "-4", "-4"),
    }
    assert set(actual) == set(expected)
    for address, (*counts, total, held) in expected.items():
        assert actual[address][:6] == tuple(counts), address
        got = (Decimal(actual[address][6]), Decimal(actual[address][7]))
        assert got == (Decimal(total), Decimal(held)), address


def test_section_7_rows_are_used_or_quarantined(home: Path) -> None:
    # the checksummed sale is A's: no upper-case wallet anywhere, and A's pair on c1 has its 3 fills
    shouted = query(home, "select count() from polymarket.pnl where wallet_address != lower(wallet_address)")
    assert shouted == [(0,)]
    assert query(home, "select num_flows from polymarket.pnl_positions where wallet_address = {a:String} "
                       "and condition_id = {c:String}", {"a": A, "c": condition(1)}) == [(3,)]
    assert query(home, "select flow_type, count() from polymarket.pnl where wallet_address = {h:String} "
                       "and flow_type = 'MERGE' group by flow_type", {"h": H}) == [("MERGE", 2)]
    assert query(home, "select reason from polymarket.quarantine") == [
        ("redeem usd_value differs from shares * p_i",)]


def test_batched_rebuild_agrees_and_empties_vacated_partitions(home: Path, tmp_path: Path) -> None:
    # Small batches: every condition in its own run of dbt; the rows must not change.
    run_enrich(home, "run", "--step", "all", "--fresh", "--batch-size", "4")
    assert_outcomes(outcome_rows(home), EXPECTED)
    # The 50/50 condition loses its resolution: its rows must go, though no new row replaces them.
    run_enrich(home, "load", str(dataset(resolve_fifty_fifty=False).write(tmp_path / "data")))
    run_enrich(home, "run", "--step", "all")
    assert_outcomes(outcome_rows(home), {k: v for k, v in EXPECTED.items() if k[1] != 2})
