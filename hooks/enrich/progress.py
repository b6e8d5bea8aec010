"""What the runner tells the operator: the console log, and a bar or one line per batch."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from enrich.checkpoints import JOB


class Console:
    """Prints a line and appends it, timestamped, to `<home>/<job>.console.log`."""

    def __init__(self, home: Path, job: str = JOB, out: TextIO | None = None) -> None:
        self.log_path = home / f"{job}.console.log"
        # sys.stdout when called, not when imported: whoever redirects it gets the lines
        self.out = out if out is not None else sys.stdout
        self.tty = self.out.isatty()
        self._bar_shown = False

    def _append(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.log_path.open("a") as log:
            log.write(f"{stamp} {line}\n")

    def note(self, line: str) -> None:
        """Log only: for lines something else prints (the CLI prints errors)."""
        self._append(line)

    def say(self, line: str) -> None:
        if self._bar_shown:
            self.out.write("\n")
            self._bar_shown = False
        print(line, file=self.out, flush=True)
        self._append(line)

    def bar(self, line: str, logged: str) -> None:
        """On a terminal, redraw `line` in place; the log always gets the plain `logged` line."""
        self.out.write("\r\033[K" + line)
        self.out.flush()
        self._bar_shown = True
        self._append(logged)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def since(started: float) -> str:
    """The time since `started` (time.monotonic()) for a phase's end line: tenths of a second
    while a phase is short, h:mm:ss once it is long enough that tenths are noise."""
    seconds = time.monotonic() - started
    return f"{seconds:.1f} s" if seconds < 60 else _duration(seconds)


class Progress:
    """Rate and ETA over the pairs this process has done (resumed pairs do not inflate the rate)."""

    def __init__(self, console: Console, step: str, total_batches: int, total_pairs: int,
                 pairs_done: int) -> None:
        self.console = console
        self.step = step
        self.total_batches = total_batches
        self.total_pairs = total_pairs
        self.pairs_done = pairs_done
        self._start = time.monotonic()
        self._pairs_this_run = 0
        self._rows_this_run = 0

    def batch_done(self, idx: int, lo: int, hi: int, pairs: int, rows: int, seconds: float) -> None:
        self.pairs_done += pairs
        self._pairs_this_run += pairs
        elapsed = max(time.monotonic() - self._start, 1e-6)
        rate = self._pairs_this_run / elapsed
        remaining = self.total_pairs - self.pairs_done
        eta = _duration(remaining / rate) if rate > 0 else "?"
        self._rows_this_run += rows
        line = (f"step {self.step} batch {idx + 1}/{self.total_batches} keys {lo}-{hi} pairs {pairs} "
                f"rows {rows} {seconds:.1f}s, {self.pairs_done:,}/{self.total_pairs:,} pairs done "
                f"({self._rows_this_run:,} rows written by this process) {rate:,.0f} pairs/s ETA {eta}")
        if not self.console.tty:
            self.console.say(line)
            return
        width = 30
        share = self.pairs_done / self.total_pairs if self.total_pairs else (idx + 1) / self.total_batches
        filled = int(width * share)
        self.console.bar(
            f"step {self.step} [{'#' * filled}{'.' * (width - filled)}] {idx + 1}/{self.total_batches} "
            f"{self.pairs_done:,}/{self.total_pairs:,} pairs {rate:,.0f} pairs/s ETA {eta}",
            line,
        )
