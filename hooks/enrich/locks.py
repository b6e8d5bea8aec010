"""One runner per home: an flock held for the process lifetime, and the operator's pid file.

The kernel drops an flock when its holder dies, however it dies, so a lock left by a killed
runner is never stale: the next runner simply gets it. The pid file is for operators (and for
the message naming who holds the lock); it is removed on a clean exit and overwritten otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from dbt.adapters.chdb.client import process_alive

from enrich.errors import EnrichError


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "x")
    except (OSError, ValueError):
        return None


class RunLock:
    def __init__(self, home: Path, job: str) -> None:
        self.lock_path = home / f"{job}.lock"
        self.pid_path = home / f"{job}.pid"
        self._fd: int | None = None

    def acquire(self) -> int | None:
        """Take the lock or raise naming the holder; returns the pid of a dead runner taken over."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_pid(self.lock_path) or _read_pid(self.pid_path)
            who = f"pid {holder}" if holder else "another process"
            raise EnrichError(
                f"another enrich run ({who}) is already running in this home (lock {self.lock_path}); "
                "wait for it to finish or stop it (kill -TERM stops it after the batch in flight)"
            ) from None
        self._fd = fd
        previous = _read_pid(self.pid_path) or _read_pid(self.lock_path)
        stale = previous if previous and previous != os.getpid() and not process_alive(previous) else None
        pid = str(os.getpid()).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, pid + b"\n", 0)
        os.fsync(fd)
        tmp = self.pid_path.with_suffix(".pid.tmp")
        tmp.write_bytes(pid + b"\n")
        os.replace(tmp, self.pid_path)
        return stale

    def release(self) -> None:
        if self._fd is None:
            return
        # The lock file itself stays: unlinking it would let a waiter lock an orphaned inode.
        with contextlib.suppress(OSError):
            self.pid_path.unlink()
        os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None
