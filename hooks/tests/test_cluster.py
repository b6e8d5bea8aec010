"""The `cluster` target's DDL, audited: every statement that creates, alters, drops, exchanges,
renames or truncates must carry ON CLUSTER, and every MergeTree-family table it creates must be
Replicated, or each node would hold an unrelated copy of its own.

chdb_http.py --cluster checks each statement, records what breaks the rule, strips the cluster
parts and runs the rest on the one embedded engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chdb_http import Recorder
from conftest import enrich_env, run_enrich
from server_fixtures import ChdbServer, chdb_server

pytestmark = pytest.mark.cluster

CLUSTER = "enrich_replicas"
DBT_COMMENT = '/* {"app": "dbt"'


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbServer]:
    with chdb_server(tmp_path_factory.mktemp("cluster"), cluster=CLUSTER) as running:
        yield running


@pytest.fixture(scope="module")
def cluster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def cluster_run(cluster: ChdbServer, cluster_home: Path) -> dict[str, list]:
    """seed, run --step all --fresh and the gates on the cluster target; what the recorder saw."""
    home = cluster_home
    env = enrich_env(**cluster.env())
    run_enrich(home, "--target", "cluster", "seed", "--scale", "tiny", env=env)
    run_enrich(home, "--target", "cluster", "run", "--step", "all", "--fresh", "--local-checkpoints-only",
               env=env)
    gates = run_enrich(home, "--target", "cluster", "gates", env=env)
    assert "0 failed" in gates.stdout, gates.stdout
    return cluster.recorded()


def describe(violations: list[dict[str, str]]) -> str:
    return "\n".join(f"- {v['kind']}: {v['statement'][:300]}" for v in violations)


def test_dbt_ddl_on_cluster_is_replicated(cluster_run: dict[str, list]) -> None:
    """What dbt sends (models, sources macro, insert_overwrite, freshness, stored gate failures)."""
    statements = [s for s in cluster_run["statements"] if s.startswith(DBT_COMMENT)]
    # not vacuous: the marts were created and their partitions replaced through the recorder
    for needle in ("`pnl`", "`wallet_resolution_outcomes`", "`wallet_accuracy`", "modify comment",
                   "`trades_raw`"):
        assert any(needle in s for s in statements), needle
    violations = [v for v in cluster_run["violations"] if v["statement"].startswith(DBT_COMMENT)]
    assert not violations, describe(violations)


def test_every_ddl_statement_of_a_run_is_on_cluster(cluster_run: dict[str, list]) -> None:
    """All of it, including the Python side's own tables (seed, runner state, key signatures)."""
    assert cluster_run["statements"]
    assert not cluster_run["violations"], describe(cluster_run["violations"])


def test_dbt_build_on_the_cluster_target(cluster: ChdbServer, cluster_run: dict[str, list],
                                         cluster_home: Path) -> None:
    before = len(cluster_run["statements"]), len(cluster_run["violations"])
    # dbt's artifacts in the home of the run (not the checkout's target/): dbt reuses the run's
    # parse of the project (same target, same profile) instead of parsing it again
    run_enrich(cluster_home, "--target", "cluster", "dbt", "build", "--target", "cluster",
               "--target-path", str(cluster_home / "dbt" / "target"), env=enrich_env(**cluster.env()))
    after = cluster.recorded()
    built = after["statements"][before[0]:]
    # the marts existed: their partitions were replaced (insert_overwrite) and the table swapped
    assert any("replace partition id" in s for s in built)
    assert any(s.startswith(DBT_COMMENT) and "exchange tables" in s.lower() for s in built)
    new = after["violations"][before[1]:]
    assert not new, describe(new)


# ---- the recorder itself: the audit must be able to fail ---------------------------------------

def squash(sql: str) -> str:
    return " ".join(sql.replace("( ", "(").split())


def test_recorder_strips_on_cluster_and_replicated_engines() -> None:
    recorder = Recorder(CLUSTER)
    sql = recorder.rewrite(
        f"create table if not exists `d`.`t` on cluster \"{CLUSTER}\" (a UInt8)"
        " engine = ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}', a)"
        " order by a", {})
    assert squash(sql) == ("create table if not exists `d`.`t` (a UInt8)"
                           " engine = ReplacingMergeTree(a) order by a")
    sql = recorder.rewrite(f"alter table d.t on cluster {CLUSTER} drop partition id '3'", {})
    assert squash(sql) == "alter table d.t drop partition id '3'"
    sql = recorder.rewrite("create table d.t on cluster {c:String} (a UInt8) engine = ReplicatedMergeTree()"
                           " order by a", {"c": CLUSTER})
    assert squash(sql) == "create table d.t (a UInt8) engine = MergeTree() order by a"
    assert recorder.rewrite(f"select count() from clusterAllReplicas('{CLUSTER}', system.parts) where active",
                            {}) == "select count() from system.parts where active"
    assert "toUInt32(1) as _shard_num from system.tables" in recorder.rewrite(
        f"select count(distinct _shard_num) from clusterAllReplicas(\"{CLUSTER}\", system.tables)", {})
    assert recorder.violations == []


@pytest.mark.parametrize(("statement", "kind"), [
    ("create table d.t (a UInt8) engine = ReplicatedMergeTree order by a", "missing ON CLUSTER"),
    (f"create table d.t on cluster {CLUSTER} (a UInt8) engine = MergeTree order by a", "not Replicated"),
    (f"create table d.t on cluster {CLUSTER} engine = SummingMergeTree order by a as select 1 a",
     "not Replicated"),
    ("drop table if exists d.t sync", "missing ON CLUSTER"),
    ("exchange tables d.a and d.b", "missing ON CLUSTER"),
    ("rename table d.a to d.b", "missing ON CLUSTER"),
    ("truncate table d.a", "missing ON CLUSTER"),
    ("alter table d.t modify comment 'x'", "missing ON CLUSTER"),
    ("create database d", "missing ON CLUSTER"),
    ("alter table d.t on cluster other drop partition id '1'", "expected enrich_replicas"),
    ("select * from clusterAllReplicas(other, system.parts)", "expected cluster enrich_replicas"),
])
def test_recorder_flags_what_a_cluster_would_get_wrong(statement: str, kind: str) -> None:
    recorder = Recorder(CLUSTER)
    recorder.rewrite(statement, {})
    assert [v["kind"] for v in recorder.violations if kind in v["kind"]], recorder.violations


def test_recorder_leaves_queries_and_temporary_tables_alone() -> None:
    recorder = Recorder(CLUSTER)
    for statement in ("select 'create table x' as s", "insert into d.t select 1",
                      "create temporary table t (a UInt8)", "-- drop table x\nselect 1"):
        assert recorder.rewrite(statement, {}) == statement
    assert recorder.violations == [] and recorder.statements == []
