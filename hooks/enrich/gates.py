"""`enrich gates`: run the validation gates and print one line per gate.

The gates are dbt singular data tests tagged `gate` (tests/gates/); this module only runs them and
reads what dbt reports: each test's status and failure count, its meta (label, expected value, fix)
and its stored-failures table (gate 3's two numbers, the bad markets, the quarantine counts).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from clickhouse_connect.driver.client import Client

from enrich.config import Config
from enrich.dbtsession import DbtError, DbtSession
from enrich.errors import EnrichError
from enrich.warehouse import connect, resolve_target, table

SYMBOLS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "❌"}
# Rows of a stored-failures table the report shows; the table itself holds them all.
SHOWN_ROWS = 20
WALLETS_GATE = "gate_wallets_with_outcomes"
BAD_MARKETS_GATE = "gate_bad_markets"
QUARANTINE_GATE = "gate_quarantine_summary"


@dataclass(frozen=True)
class GateResult:
    name: str
    label: str
    status: str  # pass, warn, fail or error, as dbt reports it
    expected: str
    actual: str
    fix: str
    message: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")


@dataclass(frozen=True)
class GateReport:
    gates: tuple[GateResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if g.failed]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def gate(self, name: str) -> GateResult | None:
        return next((g for g in self.gates if g.name == name), None)


def run_gates(config: Config, session: DbtSession | None = None,
              variables: dict[str, Any] | None = None, build_views: bool = True) -> GateReport:
    """`dbt test --select tag:gate`, then each gate's result and stored failures."""
    session = session or DbtSession(config)
    try:
        if build_views:
            # The views the gates read (staging, quarantine) are cheap and may not exist yet, or
            # may predate a change of the project.
            views = session.invoke("run", "--select", "+tag:gate,config.materialized:view",
                                   variables=variables)
            if not views.success:
                raise EnrichError("building the views the gates read failed; see the dbt log above")
        result = session.invoke("test", "--select", "tag:gate", variables=variables)
    except DbtError as ex:
        raise EnrichError(str(ex)) from None
    node_results = list(result.result or [])
    if not node_results:
        raise EnrichError("dbt found no gates to run (no test tagged `gate` under tests/gates/)")
    client = connect(resolve_target(config))
    try:
        gates = [_gate_result(client, r) for r in node_results]
    finally:
        client.close()
    return GateReport(tuple(sorted(gates, key=_display_order)))


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
    if node.name == WALLETS_GATE and rows:
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
        columns=columns,
        rows=rows,
    )


def _stored_failures(client: Client, schema: str, alias: str) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    result = client.query(f"select * from {table(schema, alias)} limit {SHOWN_ROWS + 1}")
    return tuple(result.column_names), tuple(tuple(r) for r in result.result_rows)


def _display_order(gate: GateResult) -> tuple[bool, str]:
    # Numbered gates first, in number order, then the named ones.
    return (not gate.label[:1].isdigit(), gate.label)


def print_report(report: GateReport, out: TextIO = sys.stdout) -> None:
    width = max((len(g.label) for g in report.gates), default=0)
    print("Gates", file=out)
    for gate in report.gates:
        print(f"  {SYMBOLS.get(gate.status, '❌')} {gate.label:<{width}}  "
              f"expected {gate.expected or '-':<6} actual {gate.actual}", file=out)
        if gate.status == "error":
            print(f"      error: {_error_line(gate.message)}", file=out)
        if gate.status != "pass" and gate.fix:
            print(f"      fix: {gate.fix}", file=out)
    _print_rows(report.gate(BAD_MARKETS_GATE), "Bad markets (conservation)", out)
    _print_rows(report.gate(QUARANTINE_GATE), "Quarantined rows by reason", out)
    failed = len(report.failed)
    warned = sum(g.status == "warn" for g in report.gates)
    print(f"{len(report.gates) - failed - warned} passed, {warned} warned, {failed} failed", file=out)


def _error_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    detail = next((line for line in lines if "Exception" in line), lines[0] if lines else "")
    return detail or "see the dbt log"


def _print_rows(gate: GateResult | None, title: str, out: TextIO) -> None:
    if gate is None or not gate.rows:
        return
    print(f"{title}:", file=out)
    print("  " + "  ".join(gate.columns), file=out)
    for row in gate.rows[:SHOWN_ROWS]:
        print("  " + "  ".join(str(v) for v in row), file=out)
    if len(gate.rows) > SHOWN_ROWS:
        print(f"  ... (all rows in the stored failures of {gate.name})", file=out)


def main(config: Config, args: argparse.Namespace) -> int:
    report = run_gates(config)
    print_report(report)
    return report.exit_code
