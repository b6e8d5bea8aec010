"""`enrich run --changed` as a refresh (issue 19): after each of the scenarios of bench/scenarios.py
the result tables equal those of a `--fresh` run on the same data, and a refresh with nothing
changed rebuilds nothing.

Two homes from the same tiny seed get the same changes (the same CSV files appended, the same
in-place fee corrections): one only ever refreshes (`--changed` after `--changed`, so a stale row
left by one refresh is still there at the next comparison), the other runs `--fresh` after each
change, building everything from its sources. Their tables are compared row for row (count and an
order-independent hash of every column but computed_at), the sources too, so an unequal result is
the refresh's and not the data's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import embedded, run_enrich, seeded_copy

from bench import scenarios
from bench.worker import CHECKED, SOURCES, table_checksums
from enrich.events import read_events

DATABASE = "polymarket"
REFRESHED = re.compile(r"--changed: (\d+) condition\(s\) changed since the last build, (\d+) in the refresh scope")
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


def apply(homes: tuple[Path, ...], scenario: str, folder: Path) -> scenarios.Prepared:
    """The scenario's rows, written once from the first home's sources, appended to every home; then
    its fee corrections in place."""
    with embedded(homes[0]) as client:
        prepared = scenarios.write_rows(client, DATABASE, scenario, folder)
    for home in homes:
        if prepared.files:
            run_enrich(home, "load", str(folder), "--append")
        with embedded(home) as client:
            scenarios.correct(client, DATABASE, prepared)
    return prepared


def changed_run(home: Path) -> tuple[str, set[str]]:
    """`enrich run --changed`: its output and the kinds of event it wrote."""
    before = sum(1 for _ in read_events(home))
    out = run_enrich(home, "run", "--step", "all", "--changed").stdout
    return out, {e["event"] for e in list(read_events(home))[before:]}


def assert_nothing_rebuilt(home: Path) -> None:
    parts = result_parts(home)
    out, events = changed_run(home)
    assert "nothing changed since run" in out, out
    assert not events & REBUILD_EVENTS, events
    assert result_parts(home) == parts


def test_refresh_equals_a_fresh_run_through_every_scenario(tmp_path: Path, tiny_seed: Path) -> None:
    refreshed = seeded_copy(tiny_seed, tmp_path / "refreshed")
    fresh = seeded_copy(tiny_seed, tmp_path / "fresh")
    run_enrich(refreshed, "run", "--step", "all", "--fresh")
    assert_nothing_rebuilt(refreshed)

    for scenario in ("day", "resolutions", "corrections"):
        prepared = apply((refreshed, fresh), scenario, tmp_path / scenario)
        assert prepared.files or prepared.corrections, scenario
        assert checksums(refreshed, SOURCES) == checksums(fresh, SOURCES), f"{scenario}: the sources differ"

        out, events = changed_run(refreshed)
        found = REFRESHED.search(out)
        assert found and int(found.group(1)) > 0, f"{scenario}: no refresh:\n{out}"
        assert re.search(r"\d+ passed, \d+ warned, 0 failed", out), f"{scenario}: gates failed:\n{out}"
        assert "tables_dropped" not in events, scenario
        run_enrich(fresh, "run", "--step", "all", "--fresh")

        got, want = checksums(refreshed, CHECKED), checksums(fresh, CHECKED)
        differ = {t: (got[t], want[t]) for t in CHECKED if got[t] != want[t]}
        assert not differ, f"after {scenario}, --changed differs from --fresh: {differ}"

    # after a refresh, as after a full run
    assert_nothing_rebuilt(refreshed)
