"""The `chdb` dbt adapter plugin and the targets of profiles/profiles.yml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_DIR, enrich_env, run_enrich

HOLD_ENGINE = """
import sys, time
from enrich.config import Config
from enrich.warehouse import connect, resolve_target
client = connect(resolve_target(Config.from_env(home=sys.argv[1])))
print("holding", flush=True)
time.sleep(60)
"""


def test_second_process_gets_a_clear_error_naming_path_and_pid(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_ENGINE, str(tmp_path)],
        cwd=PROJECT_DIR, env=enrich_env(), stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        proc = run_enrich(tmp_path, "dbt", "run-operation", "create_sources", check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert str((tmp_path / "chdb").resolve()) in output
        assert f"process {holder.pid}" in output
    finally:
        holder.kill()
        holder.wait()


def test_engine_is_free_again_after_the_holder_exits(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_ENGINE, str(tmp_path)],
        cwd=PROJECT_DIR, env=enrich_env(), stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    holder.kill()
    holder.wait()
    time.sleep(0.2)
    run_enrich(tmp_path, "dbt", "run-operation", "create_sources")


DROP_AND_RECREATE = """
import sys
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.warehouse import connect, resolve_target
config = Config.from_env(home=sys.argv[1])
session = DbtSession(config)
session.run_operation("create_sources")
target = resolve_target(config)
client = connect(target)
client.command("drop database " + target.database)
# dbt-clickhouse would trust its per-process "database exists" cache here and fail.
session.run_operation("create_sources")
print(client.command("exists table " + target.database + ".trades_raw"))
"""


def test_a_dropped_database_is_recreated_within_one_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DROP_AND_RECREATE, str(tmp_path)],
        cwd=PROJECT_DIR, env=enrich_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1"


def test_server_target_parses_without_a_server(tmp_path: Path) -> None:
    env = enrich_env(ENRICH_HOME=str(tmp_path), CLICKHOUSE_HOST="clickhouse.invalid", CLICKHOUSE_PORT="8443")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--target", "server",
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_env_local_supplies_server_settings_without_overriding_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env.local").write_text("CLICKHOUSE_HOST=from-file\nexport CLICKHOUSE_PORT='9999'\n")
    code = (
        "import os; from enrich.config import Config; from enrich.warehouse import resolve_target;"
        "t = resolve_target(Config.from_env(home=os.getcwd(), target='server'));"
        "print(t.type, t.credentials.host, t.credentials.port)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=enrich_env(CLICKHOUSE_PORT="8124"),
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["clickhouse", "from-file", "8124"]


def test_a_damaged_engine_file_is_reported_as_itself_not_as_in_use(tmp_path: Path) -> None:
    """A full disk can leave a zero-byte table definition behind: the engine's own error, naming
    the file, is what the operator must see (never "in use by another process")."""
    home = tmp_path / "home"
    run_enrich(home, "dbt", "run-operation", "create_sources")
    definition = next((home / "chdb" / "metadata" / "polymarket").resolve().glob("trades_raw.sql"))
    definition.write_bytes(b"")
    proc = run_enrich(home, "export", "trades_raw", "--out", str(tmp_path / "t.csv"), check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 4 and len(lines) == 1, proc.stderr
    assert "in use" not in lines[0] and "cannot start" in lines[0] and "trades_raw.sql" in lines[0]
    assert "Traceback" not in proc.stderr


def project_copy(folder: Path) -> Path:
    """FOLDER/project: a copy of the files dbt parses, and the profiles."""
    project = folder / "project"
    for part in ("dbt_project.yml", "models", "macros", "tests", "profiles"):
        source = PROJECT_DIR / part
        (project / part).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, project / part)
        else:
            shutil.copy(source, project / part)
    return project


def test_a_changed_project_is_parsed_from_scratch_once(tmp_path: Path) -> None:
    """dbt 1.11's partial parsing loses a singular test's yml meta when the test's SQL changes;
    the session throws the saved parse away whenever the project's files differ from its own."""
    from enrich.config import Config
    from enrich.dbtsession import DbtSession, project_digest

    project = project_copy(tmp_path)
    config = Config(home=tmp_path / "home", target=None, project_dir=project)
    session = DbtSession(config)
    saved = session.target_path / "partial_parse.msgpack"
    session.target_path.mkdir(parents=True)
    saved.write_bytes(b"stale")
    session._forget_stale_partial_parse(project_digest(project))
    assert not saved.exists()  # no marker yet: the project is new to this home
    saved.write_bytes(b"current")
    session._forget_stale_partial_parse(project_digest(project))
    assert saved.read_bytes() == b"current"  # same files: the saved parse is kept
    gate = project / "tests" / "gates" / "gate_pnl_nulls.sql"
    gate.write_text(gate.read_text() + "\n-- changed\n")
    before = (session.target_path / "enrich-project.sha256").read_text()
    session._forget_stale_partial_parse(project_digest(project))
    assert not saved.exists() and project_digest(project) != before


def test_a_process_parses_a_project_once_per_target_and_again_when_it_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in one process share a parse across homes (the home is not part of what dbt
    parses), but not across databases or project files."""
    from enrich.config import Config
    from enrich.dbtsession import DbtSession

    project = project_copy(tmp_path)

    def manifest(home: str) -> Any:
        return DbtSession(Config(home=tmp_path / home, target=None, project_dir=project)).manifest

    first = manifest("a")
    assert manifest("b") is first
    monkeypatch.setenv("ENRICH_DATABASE", "elsewhere")
    other = manifest("a")
    assert other is not first and other.nodes["model.enrich.pnl"].schema == "elsewhere"
    monkeypatch.delenv("ENRICH_DATABASE")
    (project / "models" / "marts" / "probe.sql").write_text("select 1 as x\n")
    changed = manifest("b")
    assert changed is not first and "model.enrich.probe" in changed.nodes
    assert "model.enrich.probe" not in first.nodes
