"""The sharded-cluster simulation (docs/SCALING.md) on the tiny scale: 2 shards, one home each
(every check holds for any number of shards; each shard more costs three processes, a load, a run
and a read; `python -m bench.shards` simulates 4 by default).

`python -m bench.shards` does the work as a process, as an operator would run it; these tests
read its raw figures (row counts, checksums per shard, rows per batch_key % shards, per-market
totals, gate rows) and recompute every equality themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import PROJECT_DIR, enrich_env

pytestmark = pytest.mark.cluster

SHARDS = 2
RESULTS = ("pnl", "pnl_positions", "wallet_resolution_outcomes")


@pytest.fixture(scope="module")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("shards")
    out = workdir / "figures.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.shards", "--scale", "tiny", "--shards", str(SHARDS),
         "--jobs", str(SHARDS), "--workdir", str(workdir / "homes"), "--json", str(out)],
        cwd=PROJECT_DIR, env=enrich_env(), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"bench.shards exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(out.read_text())


def test_every_source_row_is_on_exactly_one_shard(simulation: dict[str, Any]) -> None:
    loaded = simulation["loaded_source_rows"]
    for name in ("trades_raw", "ctf_events", "resolutions"):
        per_shard = [shard[name] for shard in loaded["shards"]]
        assert all(n > 0 for n in per_shard), f"{name}: a shard got no rows: {per_shard}"
        assert sum(per_shard) == loaded["single"][name], f"{name}: {per_shard} vs {loaded['single'][name]}"
    # the dimension is on every shard, whole
    assert all(shard["markets_dim"] == loaded["single"]["markets_dim"] for shard in loaded["shards"])


def test_each_shard_holds_only_its_batch_keys(simulation: dict[str, Any]) -> None:
    """Staged sources, flows, pairs and outcomes of a shard all carry batch keys naming that shard."""
    assert len(simulation["residues"]) == SHARDS
    for shard, tables in enumerate(simulation["residues"]):
        for name in ("stg_polymarket__trades", "stg_polymarket__ctf_events", "int_flows_unioned", *RESULTS):
            assert tables[name], f"shard {shard}: {name} is empty"
            assert set(tables[name]) == {str(shard)}, f"shard {shard}: {name} by residue: {tables[name]}"


@pytest.mark.parametrize("name", RESULTS)
def test_union_of_shards_equals_single_home(simulation: dict[str, Any], name: str) -> None:
    figures = simulation
    single = figures["checksums"]["single"][name]
    shards = [s[name] for s in figures["checksums"]["shards"]]
    assert "computed_at" not in single["columns"]
    assert {"wallet_address", "condition_id", "batch_key"} <= set(single["columns"])
    assert all(s["columns"] == single["columns"] for s in shards)
    assert all(s["rows"] > 0 for s in shards)
    assert sum(s["rows"] for s in shards) == single["rows"]
    for digest in ("city", "sip"):
        assert sum(s[digest] for s in shards) % 2**64 == single[digest], f"{name}: {digest} sums differ"
    # the copy the union home rebuilt its aggregates from is that union, row for row
    assert figures["checksums"]["union"][name] == single


def test_wallet_accuracy_needs_the_union(simulation: dict[str, Any]) -> None:
    """Wallets span shards: a shard's own wallet_accuracy is partial; rebuilt over the union, exact."""
    figures = simulation
    single = figures["checksums"]["single"]["wallet_accuracy"]
    per_shard = [s["wallet_accuracy"]["rows"] for s in figures["checksums"]["shards"]]
    assert sum(per_shard) > single["rows"]
    assert figures["wallets"]["on_more_than_one_shard"] > 0
    assert figures["checksums"]["union"]["wallet_accuracy"] == single


def test_gate3_counts_distinct_wallets_across_shards(simulation: dict[str, Any]) -> None:
    figures = simulation
    gate3 = figures["gate3"]
    (expected, actual), = gate3["single"]
    assert expected == actual
    assert gate3["union"] == gate3["single"]
    # each shard passes on its own, but its counts do not add up to the cluster's
    per_shard = [int(rows[0][1]) for rows in gate3["per_shard"]]
    assert all(rows[0][0] == rows[0][1] for rows in gate3["per_shard"])
    assert sum(per_shard) > int(actual)


def test_conservation_is_per_shard(simulation: dict[str, Any]) -> None:
    """A market lives on one shard, so each shard's per-market totals are the cluster's."""
    figures = simulation
    single = figures["market_totals"]["single"]
    seen: dict[str, list[Any]] = {}
    for shard in figures["market_totals"]["shards"]:
        assert not set(shard) & set(seen), "a market has resolved flows on two shards"
        seen.update(shard)
    assert seen == single
    assert len(single) > 0
