"""Structured run events: one JSON object per line in `<home>/<job>.events.jsonl`.

The console log is for people; this file is for programs (`enrich status` reads it, never the
prose). Every event has `ts` (UTC, ISO 8601), `event` and `pid`; the rest depends on the event:
run_started (run_id, mode, step, reason), run_resumed (run_id, step, batches_done), planned
(run_id, batches, pairs, stale_keys, added_ranges), tables_dropped (run_id, tables),
batch_committed (run_id, step, batch, batches, key_lo, key_hi, pairs, rows, seconds),
step_completed (run_id, step, pairs), gates_done (run_id, exit_code), run_stopped (run_id,
signal), run_completed (run_id), run_failed (run_id, error).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enrich.checkpoints import JOB


def events_path(home: Path) -> Path:
    return home / f"{JOB}.events.jsonl"


class EventLog:
    def __init__(self, home: Path) -> None:
        self.path = events_path(home)

    def emit(self, event: str, **fields: Any) -> None:
        record = {"ts": datetime.now(UTC).isoformat(timespec="microseconds"), "event": event,
                  "pid": os.getpid(), **fields}
        # one write of one line in append mode: a kill leaves whole lines only
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def read_events(home: Path) -> Iterator[dict[str, Any]]:
    """Every well-formed event, oldest first; a torn last line (disk full) is skipped."""
    path = events_path(home)
    if not path.exists():
        return
    with path.open(errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record
