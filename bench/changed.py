"""`enrich run --changed` after appending 1% new trades (bench.append), against a full run.

On a home whose last run was a full one: export the sources, append the new rows (`enrich load
--append`), time `enrich run --changed`, checksum the result tables, then `enrich run --fresh` on
the same data, checksum again and compare. The fresh run is the full run the --changed time is
measured against (same data, same moment). Afterwards the sources are loaded back from their
exports, so a later bench starts from the seeded data; the seed marker is removed meanwhile, so a
bench killed in between seeds the home again instead of reusing changed data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import append, endtoend
from bench.home import Home
from enrich.project import SOURCE_TABLES


def export_sources(home: Home, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in SOURCE_TABLES:
        home.enrich("export", name, "--out", str(directory / f"{name}.parquet"))


def measure(home: Home, postgres_url: str, exports: Path, full_run_first: bool) -> dict[str, Any]:
    """The seeded sources are exported to `exports` first (to restore them from). With
    `full_run_first`, a full run is made first, so --changed has a complete run to compare with."""
    export_sources(home, exports)
    out: dict[str, Any] = {}
    if full_run_first:
        out["full_before"] = _summary(endtoend.end_to_end(home, postgres_url))
    before = home.worker("checksums")
    seeded = home.unmark_seeded()
    try:
        new_rows = home.path.parent / "append"
        out["appended"] = append.generate(exports, new_rows)
        out["append_load_seconds"] = round(home.enrich("load", str(new_rows), "--append").seconds, 3)
        changed = endtoend.end_to_end(home, postgres_url, mode="--changed")
        after_changed = home.worker("checksums")
        fresh = endtoend.end_to_end(home, postgres_url)
        after_fresh = home.worker("checksums")
    finally:
        # ctf_events' file is there, so the load replaces all four tables
        out["restore_seconds"] = round(home.enrich("load", str(exports)).seconds, 3)
        if seeded is not None:
            home.mark_seeded(seeded)
    differ = sorted(name for name in after_fresh if after_changed.get(name) != after_fresh[name])
    out.update({
        "changed": _summary(changed),
        "full": _summary(fresh),
        "ratio": round(changed["seconds"] / fresh["seconds"], 4),
        "checksums_changed": after_changed,
        "checksums_full": after_fresh,
        "tables_differing": differ,
        "tables_equal": not differ,
        # every new row is a valid flow (none quarantined): pnl grew by exactly the rows appended
        "new_flows_in_pnl": after_fresh["pnl"]["rows"] - before["pnl"]["rows"],
        "new_rows_all_valid": (after_fresh["pnl"]["rows"] - before["pnl"]["rows"]
                               == out["appended"]["new_trade_rows"] + out["appended"]["new_ctf_rows"]),
    })
    return out


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    return {key: run[key] for key in ("seconds", "pairs", "peak_rss_mb", "phases", "steps", "changed_keys",
                                      "gates_summary")}
