"""Run one command as a child process: wall time, exit code, and the peak memory of its process tree."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Measured:
    argv: list[str]
    returncode: int
    seconds: float
    started_at: datetime
    ended_at: datetime
    # Polled sum of the tree's RSS, and the kernel's own high-water mark (wait4) of the child;
    # the child is one process (dbt and chDB run in-process), so they agree up to the poll interval.
    peak_tree_rss_mb: float
    maxrss_mb: float
    stdout: str
    stderr: str

    @property
    def peak_rss_mb(self) -> float:
        return max(self.peak_tree_rss_mb, self.maxrss_mb)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss_kb(pid: int) -> int:
    tree, todo, total = _children(), [pid], 0
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(tree.get(current, []))
    return total


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
        log: Path | None = None) -> Measured:
    """Run argv to completion; its output is kept (and appended to `log` when given)."""
    started_at = datetime.now(UTC)
    start = time.monotonic()
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.wait(POLL_SECONDS):
            peak[0] = max(peak[0], tree_rss_kb(child.pid))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out_lines: list[str] = []
    reader = threading.Thread(target=lambda: out_lines.extend(child.stdout or []), daemon=True)
    reader.start()
    err = child.stderr.read() if child.stderr else ""
    reader.join()
    # wait4, not Popen.wait: it also returns the child's own peak RSS
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    poller.join()
    out = "".join(out_lines)
    if log is not None:
        with log.open("a") as fh:
            fh.write(f"$ {' '.join(argv)}\n{out}{err}[exit {child.returncode}, {seconds:.1f} s]\n")
    return Measured(argv, child.returncode, seconds, started_at, datetime.now(UTC),
                    peak[0] / 1024, usage.ru_maxrss / 1024, out, err)
