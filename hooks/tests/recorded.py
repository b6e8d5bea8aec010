"""`enrich` commands run in a child process that records every statement the embedded engine
receives: at the backend's two entry points into chDB, below clickhouse-connect and dbt, so
nothing a command sends can bypass it. The statements still run on the real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_DIR, enrich_env

_CHILD = """
import json, sys
from clickhouse_connect.driver._backend import chdb_backend
from enrich import cli

exec(sys.argv[3])
seen = []
for name in ("_query_locked", "_open_stream"):
    original = getattr(chdb_backend.ChdbBackend, name)
    def record(self, sql, *args, _original=original, **kwargs):
        seen.append(sql.decode("utf-8", "replace") if isinstance(sql, bytes) else sql)
        return _original(self, sql, *args, **kwargs)
    setattr(chdb_backend.ChdbBackend, name, record)
codes = [cli.main(args) for args in json.loads(sys.argv[2])]
with open(sys.argv[1], "w") as fh:
    json.dump({"codes": codes, "statements": seen}, fh)
"""


def run_recorded(tmp_path: Path, commands: list[list[str]], before: str = "") -> list[str]:
    """Run COMMANDS (argument lists of `enrich`) in one child, after the Python code BEFORE;
    all must succeed. Returns the statements the engine received, in order."""
    record = tmp_path / "statements.json"
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(record), json.dumps(commands), before],
                          cwd=PROJECT_DIR, env=enrich_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(record.read_text())
    assert result["codes"] == [0] * len(commands), proc.stdout + proc.stderr
    return result["statements"]
