"""Test-only crash points: with ENRICH_TEST_KILL_AT=<point>:<n>, SIGKILL this process the n-th
time it reaches <point>. Unset (as always outside the tests) every call here does nothing.

The crash tests and `make torture` kill the runner from outside at random moments; these points
let them also die inside windows too short to hit that way, and at every phase boundary:
- `checkpoint`: the new state file is written but not yet renamed over the old one;
- `replaced`: a batch's partitions are replaced, no checkpoint names the batch yet;
- `startup`, `parsed`, `upstream`, `planned`, `step_completed`, `finalized`, `gates`: the
  runner's phases, each reached right after it ends;
- `load-mark` (between the ready marks of a load or seed), `load-committed` (every mark set, no
  exchange made) and `load-exchange` (between its exchanges); `dims-merged` (`dims --from` filled
  its merged table, not committed yet); `reset-forgotten` (`reset --all` deleted the checkpoints,
  no table dropped yet).
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

ENV = "ENRICH_TEST_KILL_AT"
_reached: Counter[str] = Counter()


def reached(point: str) -> None:
    name, _, count = os.environ.get(ENV, "").partition(":")
    if name != point:
        return
    _reached[point] += 1
    if str(_reached[point]) == count:
        os.kill(os.getpid(), signal.SIGKILL)


def dbt_callbacks() -> list[Callable[[Any], None]]:
    """dbt event callbacks reaching `replaced` as each partition-replacing statement returns."""
    if not os.environ.get(ENV, "").startswith("replaced:"):
        return []
    in_replace = False

    def on_event(msg: Any) -> None:
        nonlocal in_replace
        # dbt-clickhouse logs "On <connection>: <sql>..." before a statement, "SQL status" after it
        text = getattr(msg.data, "base_msg", "")
        if "replace partition id" in text:
            in_replace = True
        elif in_replace and text.startswith("SQL status"):
            in_replace = False
            reached("replaced")

    return [on_event]
