"""Stopping `enrich run` from outside: the first SIGINT/SIGTERM lets the batch in flight finish and
be checkpointed, the second cancels it (its engine queries are killed), a third exits at once.

Python runs a signal handler in the main thread only, between bytecodes. dbt runs the models in a
thread pool, so a batch's queries run in a worker thread; the main thread is then waiting for it
(where a handler could run), but elsewhere it waits inside a C call (a query of the runner's own on
the embedded engine, a Postgres round trip) and a Python handler would wait with it. So the
signals are read by a watchdog thread from the interpreter's wakeup fd, which Python's C-level
handler writes the moment a signal arrives, whatever the main thread is doing; the Python-level
handler does nothing. The watchdog prints, and kills the queries, over a connection of its own.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from enrich.errors import ExitCode
from enrich.progress import Console

EXIT_CODES = {signal.SIGINT: ExitCode.INTERRUPTED, signal.SIGTERM: ExitCode.TERMINATED}
# how often the watchdog looks for queries to kill once cancelled: a statement dbt sent just before
# the cancel (its check passed) may reach the engine after the first kill
_KILL_EVERY = 0.25


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: the watchdog has already seen the signal through the wakeup fd."""


class StopFlag:
    """What SIGINT/SIGTERM asked for: `bool(flag)` once stopping, `cancelled` after the second signal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.signum: int | None = None
        self.cancelled = False
        self.received = 0
        # set by the runner: one pass of killing the engine's queries of the work in flight; returns
        # the ids it killed
        self.killer: Callable[[], list[str]] | None = None
        self._batch: tuple[str, float] | None = None
        self._durations: list[float] = []
        self._killed: set[str] = set()
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None
        self._watchdog: threading.Thread | None = None
        self._done = threading.Event()

    def __bool__(self) -> bool:
        return self.signum is not None

    def install(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._reader.settimeout(_KILL_EVERY)
        for signum in EXIT_CODES:
            self._previous[signum] = signal.signal(signum, _ignore)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._watchdog = threading.Thread(target=self._watch, name="enrich-stop-watchdog", daemon=True)
        self._watchdog.start()

    def restore(self) -> None:
        self._done.set()
        if self._writer is None:
            return
        signal.set_wakeup_fd(self._previous_fd)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
        for sock in (self._writer, self._reader):
            if sock is not None:
                sock.close()
        self._reader = self._writer = None

    # --- what the runner tells it --------------------------------------------------------------

    def batch_started(self, label: str) -> None:
        self._batch = (label, time.monotonic())

    def batch_finished(self, seconds: float) -> None:
        self._batch = None
        self._durations.append(seconds)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        return int(EXIT_CODES.get(self.signum or 0, ExitCode.ERROR))

    # --- the watchdog ----------------------------------------------------------------------------

    def _watch(self) -> None:
        assert self._reader is not None
        while not self._done.is_set():
            try:
                data = self._reader.recv(64)
            except TimeoutError:
                data = None
            except OSError:
                return
            if data == b"":
                return
            for signum in data or b"":
                if signum in EXIT_CODES:
                    self._received(signum)
            if self.cancelled and not self._done.is_set():
                self._kill()

    def _received(self, signum: int) -> None:
        self.received += 1
        name = signal.Signals(signum).name
        again = "press Ctrl-C" if signum == signal.SIGINT else f"send {name}"
        if self.received == 1:
            self.signum = signum
            self.console.say(f"{name} received: {self._stopping()}; {again} again to cancel it")
        elif self.received == 2:
            self.cancelled = True
            self.console.say(
                f"{name} received again: cancelling the work in flight (its engine queries are killed; "
                f"a cancelled batch is not checkpointed and `enrich run --resume` redoes it); "
                f"{again} once more to exit at once"
            )
        else:
            # the cancel did not get through (a call that does not return): leave as a kill would,
            # which every checkpoint is made to survive
            self.console.say(f"{name} received a third time: exiting at once; `enrich run --resume` "
                             "continues the run")
            os._exit(self.exit_code)

    def _stopping(self) -> str:
        """How long the stop may take: from the batch in flight and the ones before it."""
        if self._batch is None:
            return "stopping before the next batch"
        label, started = self._batch
        elapsed = time.monotonic() - started
        if not self._durations:
            return (f"stopping after the batch in flight ({label}, started {elapsed:.0f} s ago; no batch "
                    "of this process has finished yet to tell how long it takes)")
        typical = statistics.median(self._durations)
        if elapsed < typical:
            return (f"stopping after the batch in flight ({label}: about {typical - elapsed:.0f} s more, "
                    f"started {elapsed:.0f} s ago; the batches before it took {typical:.0f} s)")
        return (f"stopping after the batch in flight ({label}, started {elapsed:.0f} s ago, longer than "
                f"the {typical:.0f} s of the batches before it)")

    def _kill(self) -> None:
        if self.killer is None:
            return
        try:
            killed = [q for q in self.killer() if q not in self._killed]
        except Exception as ex:
            # the main thread reports what the cancel did to its call; this is the reason it may not
            self.console.note(f"could not kill the engine's queries: {' '.join(str(ex).split())[:300]}")
            return
        if killed:
            self._killed.update(killed)
            noun = "query" if len(killed) == 1 else "queries"
            self.console.say(f"killed {len(killed)} engine {noun} in flight ({', '.join(killed)})")


class QueryKiller:
    """Kills the engine's queries of the work in flight, over a connection of its own (the batch's
    connection is busy with the query; the embedded engine takes any number of handles in its
    process). The lookup and the kill exclude themselves by query id.

    Which queries: on the embedded engine every query it runs is this process's (chDB allows one
    process per data directory), so all of them, whatever sent them (dbt's statements, the
    runner's own). On a server other clients run queries too, and dbt-clickhouse keeps its random
    query ids to itself: the project's query comment (dbt_project.yml `query-comment`) carries
    dbt's invocation id, the current one in this process, as does the column probe of
    dbt-clickhouse's contract check (macros/stopping), and the queries whose text holds it are
    killed; the id is bound as a parameter, so neither statement here holds it in its own text.
    """

    def __init__(self, client: Any, embedded: bool) -> None:
        self.client = client
        self.embedded = embedded

    def __call__(self) -> list[str]:
        if self.embedded:
            ids = [r[0] for r in self.client.query(
                "select query_id from system.processes where query_id != queryID()").result_rows]
        else:
            from dbt_common.invocation import get_invocation_id

            ids = [r[0] for r in self.client.query(
                "select query_id from system.processes where query_id != queryID()"
                " and position(query, {marker:String}) > 0",
                parameters={"marker": get_invocation_id()}).result_rows]
        if ids:
            self.client.query("kill query where query_id in {ids:Array(String)} async",
                              parameters={"ids": ids})
        return ids
