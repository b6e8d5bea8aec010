"""Test-only crash and pause points: with ENRICH_TEST_KILL_AT=<point>:<n>, SIGKILL this process the
n-th time it reaches <point>; with ENRICH_TEST_PAUSE_AT=<point>:<n>, SIGSTOP it there instead (a
VM pause, a long GC or a network partition, as seen by the process: it goes on where it stopped
when sent SIGCONT). Unset (as always outside the tests) every call here does nothing.

The crash tests and `make torture` kill the runner from outside at random moments; these points
let them also die inside windows too short to hit that way, and at every phase boundary:
- `checkpoint`: the new state file is written but not yet renamed over the old one;
- `replaced`: a batch's partitions are replaced, no checkpoint names the batch yet;
- `backup-created`: a table materialization (a finalize model: wallet_accuracy,
  wallet_category_accuracy) created the table it builds into, before filling and exchanging it;
- `startup`, `parsed`, `upstream`, `planned`, `step_completed`, `finalized`, `gates`: the
  runner's phases, each reached right after it ends;
- `load-mark` (between the ready marks of a load or seed), `load-committed` (every mark set, no
  exchange made) and `load-exchange` (between its exchanges); `dims-merged` (`dims --from` filled
  its merged table, not committed yet); `reset-forgotten` (`reset --all` deleted the checkpoints,
  no table dropped yet).

With ENRICH_TEST_STALL_AT=batch:<n>[:<seconds>] the n-th batch the process builds runs its own
statement in the engine that many seconds longer (600 unless given; macro `test_stall`): a batch
as long as a test needs, to stop or cancel it while the engine runs its query.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

ENV = "ENRICH_TEST_KILL_AT"
PAUSE_ENV = "ENRICH_TEST_PAUSE_AT"
STALL_ENV = "ENRICH_TEST_STALL_AT"
_reached: Counter[str] = Counter()
_paused: Counter[str] = Counter()
_stalled: Counter[str] = Counter()
# dbt-clickhouse logs "On <connection>: <sql>..." before a statement, "SQL status" after it
_STATEMENT = re.compile(r"^On [^:]*: (?P<sql>.*)$", re.S)
_COMMENT = re.compile(r"^\s*(/\*.*?\*/\s*|--[^\n]*\n\s*)*", re.S)
_BUILD_TABLE = re.compile(r"^create\s+table\s+(if\s+not\s+exists\s+)?\S*__dbt_backup", re.I)
_REPLACE = re.compile(r"replace\s+partition\s+id", re.I)


def reached(point: str) -> None:
    name, _, count = os.environ.get(ENV, "").partition(":")
    if name == point:
        _reached[point] += 1
        if str(_reached[point]) == count:
            os.kill(os.getpid(), signal.SIGKILL)
    name, _, count = os.environ.get(PAUSE_ENV, "").partition(":")
    if name == point:
        _paused[point] += 1
        if str(_paused[point]) == (count or "1"):
            # stops every thread (the lock's heartbeat too) until SIGCONT, as a paused VM would
            os.kill(os.getpid(), signal.SIGSTOP)


def stall_seconds(point: str) -> int:
    """The seconds the engine's query at POINT should run longer this time (0: not stalled)."""
    name, _, rest = os.environ.get(STALL_ENV, "").partition(":")
    if name != point:
        return 0
    _stalled[point] += 1
    count, _, seconds = rest.partition(":")
    return int(seconds or 600) if str(_stalled[point]) == (count or "1") else 0


def statement_sql(msg: Any) -> str | None:
    """The SQL of a dbt event announcing a statement, without dbt's leading query comment; None
    for any other event."""
    match = _STATEMENT.match(getattr(msg.data, "base_msg", "") or "")
    if match is None:
        return None
    sql = match.group("sql")
    return sql[_COMMENT.match(sql).end():].removesuffix("...") if sql else ""


def dbt_callbacks() -> list[Callable[[Any], None]]:
    """dbt event callbacks reaching `replaced` and `backup-created` as such a statement returns."""
    wanted = {os.environ.get(ENV, "").partition(":")[0], os.environ.get(PAUSE_ENV, "").partition(":")[0]}
    if not wanted & {"replaced", "backup-created"}:
        return []
    in_flight: str | None = None

    def on_event(msg: Any) -> None:
        nonlocal in_flight
        sql = statement_sql(msg)
        if sql is not None:
            in_flight = ("replaced" if _REPLACE.search(sql) else
                         "backup-created" if _BUILD_TABLE.match(sql) else None)
        elif in_flight and getattr(msg.data, "base_msg", "").startswith("SQL status"):
            point, in_flight = in_flight, None
            reached(point)

    return [on_event]
