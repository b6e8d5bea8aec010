"""The project installed as a package: wheels of polymarket-enrich and dbt-chdb in a fresh virtual
environment outside the repository, then `enrich` from a directory that is not the checkout.

Slow (a fresh venv resolves and installs dbt-core, dbt-clickhouse and chDB from the package index,
pip's cache helps: a minute or two), so it is not part of `make test`; `make install-test` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# what a wheel is built from: the checkout without its runtime files, caches and the other package
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "runtime", "target", "logs", "build", "dist", "*.egg-info", "__pycache__",
    ".pytest_cache", ".ruff_cache", "bench", "adapters", ".env.local",
)


def _build_wheels(tmp_path: Path, python: Path) -> list[Path]:
    # build from copies: setuptools writes build/ and *.egg-info next to the sources
    project = tmp_path / "src" / "polymarket-enrich"
    adapter = tmp_path / "src" / "dbt-chdb"
    shutil.copytree(ROOT, project, ignore=_NOT_SOURCE)
    shutil.copytree(ROOT / "adapters" / "dbt-chdb", adapter,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "suite", "tests", "__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run([str(python), "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels),
                    str(adapter), str(project)], check=True, timeout=900)
    return sorted(wheels.glob("*.whl"))


def test_wheels_install_and_run_outside_the_checkout(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    wheels = _build_wheels(tmp_path, python)
    assert [w.name.split("-")[0] for w in wheels] == ["dbt_chdb", "polymarket_enrich"], wheels
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *map(str, wheels)],
                   check=True, timeout=900)

    package = Path(subprocess.run(
        [str(python), "-c", "import enrich, os; print(os.path.dirname(enrich.__file__))"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout.strip())
    assert package.is_relative_to(env_dir), package

    work = tmp_path / "work"
    work.mkdir()
    home = tmp_path / "home"
    # nothing from the caller's settings (the Makefile exports ENRICH_HOME) or the repository's venv
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ENRICH_", "CLICKHOUSE_", "POSTGRES_", "DBT_"))
           and k not in ("VIRTUAL_ENV", "PYTHONPATH", "BATCH_SIZE")}
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), env.get("PATH", "")])
    enrich = str(env_dir / "bin" / "enrich")

    def run(*args: str, home_dir: Path | None = home) -> subprocess.CompletedProcess[str]:
        argv = [enrich, *(["--home", str(home_dir)] if home_dir else []), *args]
        return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=900)

    def ok(*args: str) -> subprocess.CompletedProcess[str]:
        proc = run(*args)
        said = f"enrich {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert proc.returncode == 0, said
        return proc

    ok("seed", "--scale", "tiny")
    ok("run")
    gates = json.loads(ok("gates", "--json").stdout)
    assert gates["passed"] and gates["counts"]["fail"] == 0, gates
    ok("export", "pnl", "--out", "pnl.csv")
    assert len((work / "pnl.csv").read_text().splitlines()) > 1
    ok("report", "--out", "report")
    assert "<svg" in (work / "report" / "index.html").read_text()

    # dbt through enrich from a directory that is not a dbt project, with dbt's own exit codes
    ok("dbt", "test", "--select", "pnl")
    assert run("dbt", "no-such-command").returncode == 2

    # without --home or ENRICH_HOME, the home is ./runtime of the working directory
    status = json.loads(run("status", "--json", home_dir=None).stdout)
    assert Path(status["home"]) == work / "runtime", status["home"]

    # the installed package stays as installed: dbt's artifacts and logs went to the homes
    written = sorted(p.relative_to(package) for p in package.rglob("*")
                     if p.name in ("target", "logs", "partial_parse.msgpack", "runtime", ".user.yml"))
    assert not written, written


if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__]))
