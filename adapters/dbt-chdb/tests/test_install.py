"""dbt-chdb installed as a user would: into a fresh virtual environment, then a two-model project.

Slow (a fresh venv resolves and installs dbt-core, dbt-clickhouse and chDB from the package index:
a minute or two), so it is not part of the project's `make test`; `make adapter-test` runs it.
"""

import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]

PROJECT = {
    "dbt_project.yml": """
        name: two_models
        version: "1.0"
        config-version: 2
        profile: two_models
        model-paths: ["models"]
    """,
    "profiles.yml": """
        two_models:
          target: dev
          outputs:
            dev:
              type: chdb
              path: "{path}"
              schema: two_models
              threads: 1
              check_exchange: false
    """,
    "models/orders.sql": """
        {{ config(materialized='table', order_by='order_id') }}
        select number + 1 as order_id, (number % 3) + 1 as customer_id, (number + 1) * 10 as amount
        from numbers(6)
    """,
    "models/customer_totals.sql": """
        {{ config(materialized='table', order_by='customer_id') }}
        select customer_id, count() as orders, sum(amount) as total
        from {{ ref('orders') }}
        group by customer_id
    """,
    "models/schema.yml": """
        version: 2
        models:
          - name: customer_totals
            columns:
              - name: customer_id
                data_tests: [unique, not_null]
    """,
}

# run by the fresh venv's interpreter: the rows dbt built, read through the installed chDB
READ_ROWS = """
import sys
import chdb
print(chdb.query(
    "SELECT customer_id, orders, total FROM two_models.customer_totals ORDER BY customer_id",
    "CSV", path=sys.argv[1],
))
"""


def test_fresh_venv_install_and_dbt_build(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # a real fresh environment: nothing from the interpreter's or the project's site-packages
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # install from a copy: setuptools builds in the source folder (build/), which stays clean
    source = tmp_path / "dbt-chdb"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "suite", "tests"))
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(source)], check=True, timeout=900
    )
    # the plugin imports and nothing resolves to the project's own copy
    where = subprocess.run(
        [str(python), "-c", "import dbt.adapters.chdb as a; print(a.__file__)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    assert where.startswith(str(env_dir)), where

    project = tmp_path / "project"
    data = tmp_path / "chdb"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text).format(path=data) if name == "profiles.yml"
                                    else textwrap.dedent(text))
    dirs = ["--project-dir", str(project), "--profiles-dir", str(project)]
    build = subprocess.run(
        [str(env_dir / "bin" / "dbt"), "build", *dirs],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-2000:]
    # two models and two data tests
    assert "PASS=4" in build.stdout, build.stdout[-2000:]

    # dbt's process has exited, so the data directory is free for another process to read
    rows = subprocess.run(
        [str(python), "-c", READ_ROWS, str(data)], check=True, capture_output=True, text=True
    ).stdout
    # orders 1..6 with amounts 10..60, customers (n % 3) + 1: 10+40, 20+50, 30+60
    assert rows.split() == ["1,2,50", "2,2,70", "3,2,90"]


if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", __file__]))
