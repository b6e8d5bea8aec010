"""`enrich run --changed` as a refresh (issue 19): after each of the scenarios of bench/scenarios.py
the result tables equal those of a `--fresh` run on the same data, and a refresh with nothing
changed rebuilds nothing.

One home only ever refreshes (`--changed` after `--changed`, so a stale row left by one refresh is
still there at the next comparison). After each refresh a copy of it drops every table a full run
could keep (the flows, the quarantine, the digests, the key figures) and runs `--fresh`, building
everything from the same sources; the two are compared row for row (count and an
order-independent hash of every column but computed_at).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.refresh import KEPT_BY_FRESH
from bench.worker import CHECKED, SOURCES, table_checksums
from conftest import embedded, release_engine, run_enrich, seeded_copy

from enrich.events import read_events

DATABASE = "polymarket"
REFRESHED = re.compile(r"--changed: (\d+) condition\(s\) changed since the last build, "
                       r"(\d+) in the refresh scope")
REBUILD_EVENTS = {"tables_dropped", "batch_committed", "planned", "step_completed"}


def checksums(home: Path, names: tuple[str, ...]) -> dict[str, Any]:
    with embedded(home) as client:
        return table_checksums(client, DATABASE, names)


def result_parts(home: Path) -> list[tuple]:
    """The active parts of the result tables: rewriting a table, or a partition of it, changes them."""
    with embedded(home) as client:
        return [tuple(r) for r in client.query(
            "select table, name, rows, modification_time from system.parts where active"
            " and database = {db:String} and table in {names:Array(String)} order by table, name",
            parameters={"db": DATABASE, "names": list(CHECKED)}).result_rows]


def apply(home: Path, scenario: str, folder: Path) -> scenarios.Prepared:
    """The scenario's rows appended (`enrich load --append`), then its fee corrections in place."""
    with embedded(home) as client:
        prepared = scenarios.write_rows(client, DATABASE, scenario, folder)
    if prepared.files:
        run_enrich(home, "load", str(folder), "--append")
    with embedded(home) as client:
        scenarios.correct(client, DATABASE, prepared)
    return prepared


def fresh_copy(home: Path, copy: Path) -> Path:
    """COPY holding HOME's warehouse (engine closed) after a `--fresh` run that kept none of HOME's
    tables. Only the warehouse (chdb/) is copied, over the one COPY had: the rest of COPY (its dbt
    folder above all) stays from one call to the next, so dbt reuses COPY's parse of the project
    (a parse names its home's path) instead of parsing it again for each scenario."""
    release_engine()
    shutil.rmtree(copy / "chdb", ignore_errors=True)
    shutil.copytree(home / "chdb", copy / "chdb", symlinks=True)
    with embedded(copy) as client:
        for name in KEPT_BY_FRESH:
            client.command(f"drop table if exists {DATABASE}.{name} sync")
    run_enrich(copy, "run", "--step", "all", "--fresh")
    return copy


def changed_run(home: Path) -> tuple[str, set[str]]:
    """`enrich run --changed`: its output and the kinds of event it wrote."""
    before = sum(1 for _ in read_events(home))
    out = run_enrich(home, "run", "--step", "all", "--changed").stdout
    return out, {e["event"] for e in list(read_events(home))[before:]}


def assert_nothing_rebuilt(home: Path) -> None:
    parts = result_parts(home)
    out, events = changed_run(home)
    assert "is complete and nothing changed since" in out, out
    assert not events & REBUILD_EVENTS, events
    assert result_parts(home) == parts


def test_refresh_equals_a_fresh_run_through_every_scenario(tmp_path: Path, tiny_seed: Path) -> None:
    refreshed = seeded_copy(tiny_seed, tmp_path / "refreshed")
    run_enrich(refreshed, "run", "--step", "all", "--fresh")
    assert_nothing_rebuilt(refreshed)

    for scenario in ("day", "resolutions", "corrections"):
        prepared = apply(refreshed, scenario, tmp_path / scenario)
        assert prepared.files or prepared.corrections, scenario

        out, events = changed_run(refreshed)
        found = REFRESHED.search(out)
        assert found and int(found.group(1)) > 0, f"{scenario}: no refresh:\n{out}"
        assert re.search(r"\d+ passed, \d+ warned, 0 failed", out), f"{scenario}: gates failed:\n{out}"
        assert "tables_dropped" not in events, scenario
        fresh = fresh_copy(refreshed, tmp_path / "fresh")
        assert checksums(refreshed, SOURCES) == checksums(fresh, SOURCES)

        got, want = checksums(refreshed, CHECKED), checksums(fresh, CHECKED)
        differ = {t: (got[t], want[t]) for t in CHECKED if got[t] != want[t]}
        assert not differ, f"after {scenario}, --changed differs from --fresh: {differ}"

    # after a refresh, as after a full run
    assert_nothing_rebuilt(refreshed)


def _trades_csv(path: Path, conditions: int, tag: str, hour: int) -> int:
    """One two-legged transaction per condition (a BUY and its SELL), at HOUR of 2025-01-01."""
    header = ",".join(scenarios.TRADE_COLUMNS)
    lines = [header]
    for c in range(conditions):
        for leg, (wallet, side) in enumerate(((f"0x{c + 1:040x}", "BUY"), (f"0x{0xfeed:040x}", "SELL"))):
            lines.append(f"t-{tag}-{c}-{leg},0x{c:064x},2025-01-01 {hour:02d}:00:00.000,{wallet},m{c},"
                         f"0x{c:064x},0,{side},10,5,0")
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


def test_a_refresh_batch_spanning_more_than_100_batch_keys(tmp_path: Path) -> None:
    """A refresh batch is a set of conditions, so it may hold conditions of most of the 256 batch
    keys; its insert into a mart writes one partition per key (ClickHouse refuses more than 100 per
    INSERT block unless told otherwise). 250 conditions touched at once, as a day of trading at the
    reference scale does."""
    home = tmp_path / "home"
    conditions = 250
    first, more = tmp_path / "first", tmp_path / "more"
    first.mkdir()
    more.mkdir()
    markets = ["market_id,condition_id,question,category,outcome_count,outcome_labels,end_date"]
    markets += [f'm{c},0x{c:064x},Q{c},Sports,2,"[\'Yes\',\'No\']",2026-01-01 00:00:00.000'
                for c in range(conditions)]
    (first / "markets_dim.csv").write_text("\n".join(markets) + "\n")
    (more / "markets_dim.csv").write_text(markets[0] + "\n")
    for folder in (first, more):
        (folder / "resolutions.csv").write_text("condition_id,payout_numerators,resolved_at\n")
    _trades_csv(first / "trades_raw.csv", conditions, "a", 1)
    appended = _trades_csv(more / "trades_raw.csv", conditions, "b", 2)
    run_enrich(home, "load", str(first))
    run_enrich(home, "run", "--step", "all", "--fresh")
    run_enrich(home, "load", str(more), "--append")

    out, _ = changed_run(home)

    assert f"--changed: {conditions} condition(s) changed" in out
    with embedded(home) as client:
        keys, rows = client.query(f"select uniqExact(batch_key), count() from {DATABASE}.pnl").result_rows[0]
    assert keys > 100 and rows == 2 * appended
