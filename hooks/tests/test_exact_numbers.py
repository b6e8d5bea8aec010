"""Issue 20: numbers to the last digit. One test per case of the issue, on tiny CSVs loaded with
`enrich load` and run with `enrich run`; every expected value is worked out by hand from
docs/domain.md (section 7 settles each case), with the arithmetic in a comment.

Most cases share one closed dataset (`closed_home`), each on conditions of its own, so the run
that builds it must pass every gate: a case that broke conservation would show there too.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import query, run_enrich

D = "2024-01-01 00:00:00"
RESOLVED = "2024-06-01 00:00:00"
AFTER = "2024-07-01 00:00:00"

TRADES_HEADER = ("trade_id,tx_hash,block_time,wallet_address,market_id,condition_id,outcome_index,side,"
                 "shares,usd_value,fee_usd")
CTF_HEADER = ("event_id,block_time,wallet_address,market_id,condition_id,outcome_index,event_type,"
              "shares,usd_value")
MARKETS_HEADER = "market_id,condition_id,question,category,outcome_count,outcome_labels,end_date"
RESOLUTIONS_HEADER = "condition_id,payout_numerators,resolved_at"


def trade(trade_id: str, time: str, wallet: str, market: str, condition: str, outcome: int, side: str,
          shares: str, usd: str) -> str:
    # written as is: an id with a trailing space stays unquoted
    return f"{trade_id},0xtx,{time},{wallet},{market},{condition},{outcome},{side},{shares},{usd},0"


def market(market_id: str, condition: str, n: int = 2) -> str:
    labels = "[" + ",".join(f"'o{i}'" for i in range(n)) + "]"
    return f'{market_id},{condition},q,cat,{n},"{labels}",2024-12-31 00:00:00'


def resolution(condition: str, payout: str, time: str = RESOLVED) -> str:
    return f'{condition},"{payout}",{time}'


def write(directory: Path, trades: list[str], ctf: list[str], markets: list[str],
          resolutions: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, header, lines in (("trades_raw", TRADES_HEADER, trades), ("ctf_events", CTF_HEADER, ctf),
                                ("markets_dim", MARKETS_HEADER, markets),
                                ("resolutions", RESOLUTIONS_HEADER, resolutions)):
        (directory / f"{name}.csv").write_text("\n".join([header, *lines]) + "\n")
    return directory


REDEEMS = 20_001

CLOSED_TRADES = [
    # case 2: `sp1` and `sp1 ` (unquoted trailing space) are two ids of an open market
    trade("sp1", D, "w", "m2", "c2", 0, "BUY", "1", "0.5"),
    trade("sp1 ", D, "w", "m2", "c2", 0, "BUY", "2", "1"),
    # case 3: 1.000001 at 0.001 on [1, 127], and its counterparty; 1 at 0.5 on [2, 1]
    trade("h1", D, "w", "m3", "c3", 0, "BUY", "1.000001", "0.001"),
    trade("h2", D, "v", "m3", "c3", 0, "SELL", "1.000001", "0.001"),
    trade("h3", D, "w", "m3b", "c3b", 0, "BUY", "1", "0.5"),
    trade("h4", D, "v", "m3b", "c3b", 0, "SELL", "1", "0.5"),
    # case 4: a buy at .1234 and a sell at .1236 on an open market; the sell's id sorts first
    trade("f4b", "2024-01-01 00:00:00.1234", "w", "m4", "c4", 0, "BUY", "1", "0.3"),
    trade("f4a", "2024-01-01 00:00:00.1236", "w", "m4", "c4", 0, "SELL", "1", "0.5"),
    # ... and a fill 0.4 ms after its condition resolved at .1234
    trade("f4c", "2024-06-01 00:00:00.1238", "w", "m4r", "c4r", 0, "BUY", "1", "0.5"),
    # case 5: a market missing from markets_dim resolved with the one-entry vector [1]
    trade("p1", D, "w", "m5", "c5", 0, "BUY", "1", "0.5"),
    trade("p2", D, "v", "m5", "c5", 0, "SELL", "1", "0.5"),
    # case 6: a closed pair whose REDEEM the chain rounded down: y buys 0.000001 at 0 from z
    trade("k1", D, "y", "m6b", "c6b", 0, "BUY", "0.000001", "0"),
    trade("k2", D, "z", "m6b", "c6b", 0, "SELL", "0.000001", "0"),
    # case 7: buy 3 for 2, sell 1 for 0.5 (open market); buy 3e14 for 1e14, sell 1.5e14 for 7.5e13
    trade("g1", D, "w", "m7", "c7", 0, "BUY", "3", "2"),
    trade("g2", "2024-01-02 00:00:00", "w", "m7", "c7", 0, "SELL", "1", "0.5"),
    trade("g3", D, "v", "m7b", "c7b", 0, "BUY", "300000000000000", "100000000000000"),
    trade("g4", "2024-01-02 00:00:00", "v", "m7b", "c7b", 0, "SELL", "150000000000000", "75000000000000"),
]
CLOSED_CTF = [
    # case 6: x splits 0.040002 USD on a 50/50 market, then redeems 20,001 YES of 0.000001 each;
    # each pays 0.000001 * 0.5 = 0.0000005, which the chain rounds down to 0 (valid: within 0.000001)
    f"s1,{D},x,m6,c6,0,SPLIT,0.040002,0.020001",
    f"s2,{D},x,m6,c6,1,SPLIT,0.040002,0.020001",
    *(f"r{i:05d},{AFTER},x,m6,c6,0,REDEEM,0.000001,0" for i in range(REDEEMS)),
    f"k3,{AFTER},y,m6b,c6b,0,REDEEM,0.000001,0",
]
CLOSED_MARKETS = [market(m, c) for m, c in (("m2", "c2"), ("m3", "c3"), ("m3b", "c3b"), ("m4", "c4"),
                                            ("m4r", "c4r"), ("m6", "c6"), ("m6b", "c6b"), ("m7", "c7"),
                                            ("m7b", "c7b"), ("m8", "c8"))]
CLOSED_RESOLUTIONS = [
    resolution("c3", "[1,127]"), resolution("c3b", "[2,1]"),
    resolution("c4r", "[1,0]", "2024-06-01 00:00:00.1234"),
    resolution("c5", "[1]"),
    resolution("c6", "[1,1]"), resolution("c6b", "[1,1]"),
    # case 8: c8 is in markets_dim and has no flows; c_unknown is in neither
    resolution("c8", "[1,0]"), resolution("c_unknown", "[1,0]"),
]


@pytest.fixture(scope="module")
def closed_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("exact")
    files = write(root / "files", CLOSED_TRADES, CLOSED_CTF, CLOSED_MARKETS, CLOSED_RESOLUTIONS)
    home = root / "home"
    run_enrich(home, "load", str(files))
    proc = run_enrich(home, "run", "--fresh", check=False)
    return home, proc


def pnl(home: Path, flow_id: str) -> tuple:
    return query(home, "select toString(realized_pnl_usd), toString(avg_cost_realized_usd), "
                       "toString(block_time) from polymarket.pnl where flow_id = {f:String}",
                 {"f": flow_id})[0]


def quarantined(home: Path, table: str) -> dict[str, str]:
    return dict(query(home, "select row_id, reason from polymarket.quarantine "
                            "where source_table = {t:String}", {"t": table}))


def test_gates_json_is_only_json_with_a_failing_gate(tmp_path: Path) -> None:
    # case 1: one buy of 10 YES for 4 on [1, 0] without its counterparty: its P&L 10 - 4 = 6 is the
    # market's imbalance, so the conservation gate fails
    files = write(tmp_path / "files", [trade("t1", D, "w", "m1", "c1", 0, "BUY", "10", "4")], [],
                  [market("m1", "c1")], [resolution("c1", "[1,0]")])
    home = tmp_path / "home"
    run_enrich(home, "load", str(files))
    assert run_enrich(home, "run", "--fresh", check=False).returncode == 1
    proc = run_enrich(home, "gates", "--json", check=False)
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    assert document["passed"] is False and document["exit_code"] == 1
    bad = next(g for g in document["gates"] if g["label"] == "bad_markets")
    assert bad["status"] == "fail"
    assert Decimal(bad["rows"][0]["imbalance_usd"]) == Decimal(6)


def test_unquoted_spaces_are_kept(closed_home, tmp_path: Path) -> None:
    # case 2: `sp1` and `sp1 ` are two ids, both used: nothing of c2 is quarantined
    home, _ = closed_home
    assert sorted(r[0] for r in query(home, "select flow_id from polymarket.pnl where condition_id = 'c2'")) \
        == ["sp1", "sp1 "]
    assert not [row for row in quarantined(home, "trades_raw") if row.startswith("sp1")]
    # a number with spaces around it is a load error naming file, line and column
    files = write(tmp_path / "files", [trade("t1", D, "w", "m1", "c1", 0, "BUY", "10 ", "4")], [],
                  [market("m1", "c1")], [])
    proc = run_enrich(tmp_path / "home", "load", str(files), check=False)
    assert proc.returncode == 4
    assert "trades_raw.csv: line 2, column shares" in proc.stderr, proc.stderr


def test_flow_pnl_and_p_final_are_half_even(closed_home) -> None:
    home, _ = closed_home
    # case 3: 1.000001 * 1/128 - 0.001 = 0.0078125078125 - 0.001 = 0.0068125078125: a tie at the 12th
    # decimal, half-even keeps ...812 (half away from zero gave ...813); the seller's is its negative
    assert pnl(home, "h1")[0] == "0.006812507812"
    assert pnl(home, "h2")[0] == "-0.006812507812"
    # p_final of outcome 0 on [2, 1] is 2/3 = 0.6666666666666...: 0.666666666667 (truncation gave ...666);
    # w's P&L 1 * 2/3 - 0.5 = 0.1666666666666... rounds to 0.166666666667
    rows = query(home, "select condition_id, toString(p_final), result, toString(pnl_usd) "
                       "from polymarket.wallet_resolution_outcomes where wallet_address = 'w' "
                       "and condition_id in ('c3', 'c3b') order by condition_id")
    assert rows == [("c3", "0.0078125", "push", "0.006812507812"),
                    ("c3b", "0.666666666667", "push", "0.166666666667")]


def test_times_keep_microseconds(closed_home, tmp_path: Path) -> None:
    home, _ = closed_home
    # case 4: the buy at .1234 comes before the sell at .1236 (the sell's id sorts first, so a tie
    # would replay it first, clamped to nothing): the lens realizes 1 * (0.5 - 0.3) = 0.2
    assert pnl(home, "f4a")[1:] == ("0.2", "2024-01-01 00:00:00.123600")
    assert pnl(home, "f4b")[1:] == ("0", "2024-01-01 00:00:00.123400")
    # a fill at .1238 is 0.4 ms after the resolution at .1234: quarantined, not used
    assert quarantined(home, "trades_raw").get("f4c") == "fill after the condition resolved"
    # a seventh digit of a second is a load error naming file, line and column
    files = write(tmp_path / "files",
                  [trade("t1", "2024-01-01 00:00:00.1234567", "w", "m1", "c1", 0, "BUY", "10", "4")], [],
                  [market("m1", "c1")], [])
    proc = run_enrich(tmp_path / "home", "load", str(files), check=False)
    assert proc.returncode == 4
    assert "trades_raw.csv: line 2, column block_time" in proc.stderr, proc.stderr


def test_one_entry_payout_vector_is_quarantined_without_a_market(closed_home) -> None:
    home, _ = closed_home
    # case 5: m5 is not in markets_dim; [1] has one entry, so c5 stays unresolved and w, who holds
    # its outcome 0, is not counted as won
    assert quarantined(home, "resolutions").get("c5") == "payout vector has fewer than 2 entries"
    assert query(home, "select count() from polymarket.wallet_resolution_outcomes "
                       "where condition_id = 'c5'") == [(0,)]
    assert pnl(home, "p1")[0] is None


def test_redeem_shortfall_keeps_conservation_and_the_lens_exact(closed_home) -> None:
    home, proc = closed_home
    # case 6: x's pair: cash -0.040002 + net YES (0.040002 - 20,001 * 0.000001 = 0.020001) * 0.5 +
    # net NO 0.040002 * 0.5 = -0.040002 + 0.0100005 + 0.020001 = -0.0100005; the 20,001 REDEEMs each
    # kept 0.0000005 (20,001 * 0.0000005 = 0.0100005), so the market balances exactly and every
    # gate passes
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert query(home, "select toString(realized_pnl_usd), toString(redeem_shortfall) "
                       "from polymarket.pnl_positions where condition_id = 'c6'") \
        == [("-0.0100005", "0.0100005")]
    assert query(home, "select toString(redeem_shortfall) from polymarket.pnl where flow_id = 'r00000'") \
        == [("0.0000005",)]
    # y's closed pair: buy 0.000001 * 0.5 - 0 = +0.0000005, REDEEM -0.0000005 + 0 = -0.0000005: 0;
    # the lens sells the REDEEM for its cash, 0, so it realizes 0 - 0 = 0 too (q * p_i gave 0.0000005)
    assert query(home, "select toString(realized_pnl_usd), toString(avg_cost_realized_pnl_usd) "
                       "from polymarket.pnl_positions where condition_id = 'c6b' and wallet_address = 'y'") \
        == [("0", "0")]
    equality = run_enrich(home, "dbt", "test", "--select", "avg_cost_equals_realized_when_closed")
    assert "0 mismatching" in equality.stdout


def test_lens_costs_sells_from_the_exact_running_totals(closed_home) -> None:
    home, _ = closed_home
    # case 7: w holds 3 at basis 2; the sell of 1 costs round_half_even(1 * 2 / 3) = 0.666666666667,
    # so it realizes 0.5 - 0.666666666667 = -0.166666666667 (a truncated cost gave ...666); left:
    # 2 at basis 2 - 0.666666666667 = 1.333333333333, average 0.6666666666665 -> half-even
    # 0.666666666666
    assert pnl(home, "g2")[1] == "-0.166666666667"
    assert query(home, "select toString(avg_prices[1]) from polymarket.pnl_positions "
                       "where condition_id = 'c7'") == [("0.666666666666",)]
    # v holds 3e14 at basis 1e14; selling 1.5e14 costs exactly 1.5e14 * 1e14 / 3e14 = 5e13, so it
    # realizes 7.5e13 - 5e13 = 2.5e13 exactly (a rounded average price times 1.5e14 gave 5e-5 more)
    assert pnl(home, "g4")[1] == "25000000000000"


def test_resolution_without_flows_is_valid_and_an_empty_home_says_load(closed_home, tmp_path: Path) -> None:
    home, _ = closed_home
    # case 8: c8 has a markets_dim row and no flows: valid and unused; c_unknown has neither
    reasons = quarantined(home, "resolutions")
    assert "c8" not in reasons
    assert reasons.get("c_unknown") == "resolution of an unknown condition"
    # a home where nothing was loaded: one line naming `enrich load` (or `enrich seed`)
    empty = tmp_path / "empty"
    for args in (("gates",), ("run",)):
        proc = run_enrich(empty, *args, check=False)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 4 and len(lines) == 1, proc.stderr
        assert "enrich load" in lines[0] and "enrich seed" in lines[0]


def test_millisecond_tables_need_one_fresh_run(closed_home) -> None:
    # tables from before microseconds (DateTime64(3)): a plain run refuses (exit 2) and names the
    # fix; `enrich run --fresh` widens the sources and rebuilds the results. Last in this file: it
    # rebuilds the shared home.
    home, _ = closed_home
    # ctf_events' times are whole seconds here: narrowing them loses nothing
    query(home, "alter table polymarket.ctf_events modify column block_time DateTime64(3, 'UTC')")
    # as a table written before: its stored row hashes computed from the millisecond values
    query(home, "alter table polymarket.ctf_events materialize column _row_hash settings mutations_sync = 2")
    query(home, "alter table polymarket.pnl modify column block_time DateTime64(3, 'UTC')")
    refused = run_enrich(home, "run", check=False)
    assert refused.returncode == 2
    assert "ctf_events.block_time, pnl.block_time" in refused.stderr
    assert "enrich run --fresh" in refused.stderr
    run_enrich(home, "run", "--fresh")
    assert query(home, "select table, type from system.columns where database = 'polymarket' "
                       "and name = 'block_time' and table in ('ctf_events', 'pnl') order by table") \
        == [("ctf_events", "DateTime64(6, 'UTC')"), ("pnl", "DateTime64(6, 'UTC')")]
    # the widening recomputed the stored row hashes: the refresh's change check sees no change
    columns = [r[0] for r in query(home, "select name from system.columns where database = 'polymarket'"
                                         " and table = 'ctf_events' and default_kind != 'MATERIALIZED'"
                                         " order by position")]
    assert query(home, "select count() from polymarket.ctf_events where _row_hash != cityHash64("
                       + ", ".join(f"`{c}`" for c in columns) + ")") == [(0,)]
