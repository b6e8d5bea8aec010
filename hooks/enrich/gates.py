"""`enrich gates`: run the validation gates and print one line per gate (or JSON).

The gates are dbt singular data tests tagged `gate` (tests/gates/); this module only runs them and
reads what dbt reports: each test's status and failure count, its meta and its stored-failures
table. The meta says how to show a gate: `gate` (the label), `expected`, `fix`, `counts: true`
(the stored row holds the `expected` and `actual` numbers, as gate 3's does) and `list` (a title
under which the stored rows are printed, as for the bad markets and the quarantine counts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from clickhouse_connect.driver.client import Client

from enrich import contracts, swap
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.errors import EnrichError, ExitCode
from enrich.project import GATE_TAG, result_tables, steps_from_manifest
from enrich.warehouse import connect, resolve_target, table

SYMBOLS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "❌"}
# Rows of a stored-failures table the report shows; the table itself holds them all.
SHOWN_ROWS = 20
# The last gate results, as `enrich gates --json` prints them, under the home (read by `enrich report`).
LAST_GATES = "gates.last.json"


@dataclass(frozen=True)
class GateResult:
    name: str
    label: str
    status: str  # pass, warn, fail or error, as dbt reports it
    expected: str
    actual: str
    fix: str
    message: str
    # the title the stored rows are printed under; empty: not printed
    list_title: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "status": self.status, "expected": self.expected,
                "actual": self.actual, "fix": self.fix, "message": self.message,
                "rows": [dict(zip(self.columns, _plain(row), strict=True)) for row in self.rows[:SHOWN_ROWS]]}


@dataclass(frozen=True)
class GateReport:
    gates: tuple[GateResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if g.failed]

    @property
    def exit_code(self) -> int:
        return int(ExitCode.GATES_FAILED if self.failed else ExitCode.OK)

    def gate(self, name: str) -> GateResult | None:
        return next((g for g in self.gates if g.name == name), None)

    def to_json(self) -> dict[str, Any]:
        warned = sum(g.status == "warn" for g in self.gates)
        return {"passed": not self.failed, "exit_code": self.exit_code,
                "counts": {"pass": len(self.gates) - len(self.failed) - warned, "warn": warned,
                           "fail": len(self.failed)},
                "gates": [g.to_json() for g in self.gates]}


def _plain(row: tuple[Any, ...]) -> list[Any]:
    """JSON-ready values: numbers stay numbers (Decimal as a string keeps every digit)."""
    return [v if isinstance(v, (int, float, str, bool)) or v is None else str(v) for v in row]


def run_gates(config: Config, session: DbtSession | None = None,
              variables: dict[str, Any] | None = None, build_views: bool = True) -> GateReport:
    """`dbt test --select tag:gate`, then each gate's result and stored failures."""
    # the warehouse first: an unreachable server is its own one-line error, not dbt's
    target = resolve_target(config)
    client = connect(target)
    recovered = swap.recover_interrupted_load(client, Ddl.for_target(client, target))
    if recovered:
        print(recovered, file=sys.stderr)
    contracts.require_sources(client, target.database)
    session = session or DbtSession(config)
    contracts.require_results(client, target.database, result_tables(steps_from_manifest(session.manifest)))
    if build_views:
        # The views the gates read (staging) may not exist yet or may predate a change of the
        # project; the tables built from the sources alone (the valid flows, the quarantine) are
        # rebuilt only when the sources changed since.
        views = session.invoke("run", "--select", f"+tag:{GATE_TAG},config.materialized:view",
                               f"+tag:{GATE_TAG},config.materialized:source_current_table",
                               variables=variables, what="building what the gates read")
        if not views.success:
            raise EnrichError("building what the gates read failed; see the dbt log under the "
                              "home's dbt/logs")
    result = session.invoke("test", "--select", f"tag:{GATE_TAG}", variables=variables, what="the gate run")
    node_results = list(result.result or [])
    if not node_results:
        client.close()
        raise EnrichError("dbt found no gates to run (no test tagged `gate` under tests/gates/)")
    try:
        gates = [_gate_result(client, r) for r in node_results]
    finally:
        client.close()
    report = GateReport(tuple(sorted(gates, key=_display_order)))
    save_last(config, report, scoped=bool(variables and variables.get("refresh_scope")))
    return report


def last_path(config: Config) -> Path:
    return config.home / LAST_GATES


def save_last(config: Config, report: GateReport, scoped: bool) -> None:
    """Keep the report as `enrich gates --json` prints it, so `enrich report` shows the gates without
    running them again. A copy for reading only: failing to write it never fails the gates."""
    document = {"checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "scope": "refresh" if scoped else "all", **report.to_json()}
    path = last_path(config)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(document, indent=2, ensure_ascii=False))
        os.replace(partial, path)
    except OSError as ex:
        print(f"could not keep the gate results in {path}: {ex.strerror or ex}", file=sys.stderr)
        partial.unlink(missing_ok=True)


def read_last(config: Config) -> dict[str, Any] | None:
    """The last gate results kept by save_last; None when there are none (or only a torn file)."""
    try:
        document = json.loads(last_path(config).read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and isinstance(document.get("gates"), list) else None


def _gate_result(client: Client, node_result: Any) -> GateResult:
    node = node_result.node
    meta = dict(node.config.meta or {})
    status = str(getattr(node_result.status, "value", node_result.status))
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    # After an error dbt did not rewrite the table: whatever is there is from an earlier run.
    if status != "error" and node.config.store_failures:
        columns, rows = _stored_failures(client, node.schema, node.alias)
    expected, actual = str(meta.get("expected", "")), str(node_result.failures or 0)
    if meta.get("counts") and rows:
        record = dict(zip(columns, rows[0], strict=True))
        expected, actual = str(record["expected"]), str(record["actual"])
    if status == "error":
        actual = "?"
    return GateResult(
        name=node.name,
        label=str(meta.get("gate", node.name)),
        status=status,
        expected=expected,
        actual=actual,
        fix=str(meta.get("fix", "")),
        message=(node_result.message or "").strip(),
        list_title=str(meta.get("list", "")),
        columns=columns,
        rows=rows,
    )


def _stored_failures(client: Client, schema: str, alias: str) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    result = client.query(f"select * from {table(schema, alias)} limit {SHOWN_ROWS + 1}")
    return tuple(result.column_names), tuple(tuple(r) for r in result.result_rows)


def _display_order(gate: GateResult) -> tuple[bool, str]:
    # Numbered gates first, in number order, then the named ones.
    return (not gate.label[:1].isdigit(), gate.label)


def print_report(report: GateReport, out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout  # when called, not when imported: a redirect counts
    width = max((len(g.label) for g in report.gates), default=0)
    print("Gates", file=out)
    for gate in report.gates:
        print(f"  {SYMBOLS.get(gate.status, '❌')} {gate.label:<{width}}  "
              f"expected {gate.expected or '-':<6} actual {gate.actual}", file=out)
        if gate.status == "error":
            print(f"      error: {_error_line(gate.message)}", file=out)
        if gate.status != "pass" and gate.fix:
            print(f"      fix: {gate.fix}", file=out)
    for gate in report.gates:
        _print_rows(gate, out)
    failed = len(report.failed)
    warned = sum(g.status == "warn" for g in report.gates)
    print(f"{len(report.gates) - failed - warned} passed, {warned} warned, {failed} failed", file=out)


def _error_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    detail = next((line for line in lines if "Exception" in line), lines[0] if lines else "")
    return detail or "see the dbt log"


def _print_rows(gate: GateResult, out: TextIO) -> None:
    if not gate.list_title or not gate.rows:
        return
    print(f"{gate.list_title}:", file=out)
    print("  " + "  ".join(gate.columns), file=out)
    for row in gate.rows[:SHOWN_ROWS]:
        print("  " + "  ".join(str(v) for v in row), file=out)
    if len(gate.rows) > SHOWN_ROWS:
        print(f"  ... (all rows in the stored failures of {gate.name})", file=out)


def main(config: Config, args: argparse.Namespace) -> int:
    if not args.json:
        report = run_gates(config)
        print_report(report)
        return report.exit_code
    # docs/domain.md section 7: with --json the document is all stdout carries, whatever the
    # gates' outcome; dbt prints its failures (and the engine may print) while the gates run
    with stdout_to_stderr():
        report = run_gates(config)
    print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    return report.exit_code


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Everything written to stdout inside goes to stderr: Python's sys.stdout (dbt's console
    logger writes there) and file descriptor 1 (what the embedded engine writes itself)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)
