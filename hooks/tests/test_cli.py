"""The command line as an operator meets it: options in either place, exit codes, and one line
(never a traceback) for every configuration, connection and engine error. In-process where the
error does not need a second process."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, enrich_env, run_enrich

from enrich import cli
from enrich.errors import ExitCode

SECRET = "cli-Secret-93d1"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No inherited warehouse settings; the working directory has no .env.local."""
    for key in list(os.environ):
        if key.startswith(("ENRICH_", "CLICKHOUSE_", "POSTGRES_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def main(*argv: str) -> int:
    return cli.main(list(argv))


def test_global_options_go_before_or_after_the_command() -> None:
    parser = cli.build_parser()
    before = parser.parse_args(["--home", "/h", "--target", "server", "status"])
    after = parser.parse_args(["status", "--home", "/h", "--target", "server"])
    assert (before.home, before.target) == (after.home, after.target) == ("/h", "server")
    # given before the command and not after it, the subcommand's default must not erase it
    mixed = parser.parse_args(["--target", "cluster", "run", "--home", "/h"])
    assert (mixed.home, mixed.target) == ("/h", "cluster")


def test_every_subcommand_and_option_has_a_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listed = {choice.dest: choice.help or "" for choice in commands._choices_actions}
    assert set(listed) == set(commands.choices)
    assert not [name for name, text in listed.items() if len(text.split()) < 4], listed
    for name, sub in commands.choices.items():
        with pytest.raises(SystemExit) as done:
            main(name, "--help")
        assert done.value.code == 0
        shown = " ".join(capsys.readouterr().out.split())
        # the subcommand's sentence heads its own --help
        assert " ".join(listed[name].split()[1:5]) in shown, (name, shown)
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = action.option_strings or [action.metavar or action.dest]
            text = " ".join((action.help or "").split())
            # a sentence, not a word: what it does, and the default where there is one
            assert len(text.split()) >= 4, (name, names)
            assert any(n in shown for n in names) and text[:40] in shown, (name, names, shown)
            if action.default not in (None, False, argparse.SUPPRESS):
                assert "default" in text, (name, names)


def test_version_names_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main("--version")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("enrich 0.1.0 (") and "dbt-core 1.11." in out and "dbt-clickhouse 1.10." in out


def test_an_unknown_target_is_a_usage_error_naming_the_valid_ones(clean_env: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main("--target", "nope", "run")
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert err.count("\n") == 1 and "unknown target 'nope'" in err
    assert "local, server, cluster" in err


def test_a_bad_env_file_line_is_named(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (clean_env / ".env.local").write_text("CLICKHOUSE_HOST=db\nthis is not a setting\n")
    code = main("--home", str(clean_env / "home"), "status")
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE and err.count("\n") == 1
    assert ".env.local: line 2: expected KEY=VALUE" in err


@pytest.mark.parametrize("argv", [
    ("run", "--target", "server"),
    ("--target", "server", "export", "pnl", "--out", "x.csv"),
    ("--target", "server", "gates"),
    ("--target", "server", "status"),
])
def test_an_unreachable_server_is_one_line_without_the_password(
        clean_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        argv: tuple[str, ...]) -> None:
    monkeypatch.setenv("CLICKHOUSE_HOST", "127.0.0.1")
    monkeypatch.setenv("CLICKHOUSE_PORT", "1")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", SECRET)
    code = main("--home", str(clean_env / "home"), *argv)
    captured = capsys.readouterr()
    assert code == ExitCode.ERROR, captured
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "cannot connect to the ClickHouse server 127.0.0.1:1" in captured.err
    assert SECRET not in captured.out + captured.err
    assert not list((clean_env / "home").glob("enrich-errors.log"))


def test_contradicting_run_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main("run", "--resume", "--fresh")
    assert info.value.code == ExitCode.USAGE
    assert "not allowed with argument" in capsys.readouterr().err


def test_export_while_a_run_holds_the_engine_is_one_line_naming_the_holder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from enrich.config import Config;"
         " from enrich.warehouse import connect, resolve_target;"
         " c = connect(resolve_target(Config.from_env(home=sys.argv[1]))); c.query('select 1');"
         " print('held', flush=True); time.sleep(60)", str(home)],
        cwd=PROJECT_DIR, env=enrich_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for args in (("export", "pnl", "--out", str(tmp_path / "x.csv")), ("run",), ("gates",)):
            proc = run_enrich(home, *args, check=False)
            assert proc.returncode == ExitCode.ERROR, (args, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in proc.stderr, (args, proc.stderr)
            assert f"in use by process {holder.pid}" in lines[0], (args, proc.stderr)
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "x.csv").exists()


def test_enrich_dbt_runs_from_any_directory_with_dbts_exit_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """From a directory that is not the project, dbt still finds the project and its profile,
    and its exit code comes through: 0 on success, 2 when dbt itself fails."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # the command writes its home back to the environment: restored after the test
    monkeypatch.setenv("ENRICH_HOME", str(tmp_path / "home"))
    argv = ["--home", str(tmp_path / "home"), "dbt"]
    capfd.readouterr()
    assert cli.main([*argv, "ls", "--select", "pnl", "--resource-type", "model", "--output", "name",
                     "--quiet"]) == 0
    assert capfd.readouterr().out.split() == ["pnl"]
    assert cli.main([*argv, "run-operation", "no_such_macro"]) == 2
    said = capfd.readouterr()
    assert "no_such_macro" in said.out + said.err
    assert not (elsewhere / "target").exists() and not (elsewhere / "logs").exists()


def test_enrich_project_dir_runs_another_copy_of_the_project(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """ENRICH_PROJECT_DIR replaces the checkout's (or the installed package's) project; a folder
    without dbt_project.yml is a configuration error naming it, never a traceback."""
    copy = clean_env / "project"
    copy.mkdir()
    for name in ("dbt_project.yml", "models", "macros", "tests", "profiles"):
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            shutil.copy2(source, copy / name)
    (copy / "models" / "only_in_the_copy.sql").write_text("select 1 as x\n")
    home = str(clean_env / "home")
    # the command writes its home back to the environment: restored after the test
    monkeypatch.setenv("ENRICH_HOME", home)
    monkeypatch.setenv("ENRICH_PROJECT_DIR", str(copy))
    capfd.readouterr()
    assert main("--home", home, "dbt", "ls", "--select", "only_in_the_copy", "--resource-type", "model",
                "--output", "name", "--quiet") == 0
    assert capfd.readouterr().out.split() == ["only_in_the_copy"]

    monkeypatch.setenv("ENRICH_PROJECT_DIR", str(clean_env / "nowhere"))
    assert main("--home", home, "status") == ExitCode.ERROR
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"no dbt project (dbt_project.yml) in {clean_env / 'nowhere'}" in err
    assert "ENRICH_PROJECT_DIR" in err


def test_a_reader_that_goes_away_gets_no_error(tmp_path: Path) -> None:
    """`enrich status | head`: the pipe closes before the report is written."""
    proc = subprocess.Popen([sys.executable, "-m", "enrich", "--home", str(tmp_path / "home"), "status"],
                            cwd=PROJECT_DIR, env=enrich_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    said = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141 and said == ""
