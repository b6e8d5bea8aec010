"""`python -m bench.instrument OUT.json ARGS...`: run `enrich ARGS...` in this process with timers on
the engine calls, dbt invocations, dbt's parse and the checkpoint writes, then write them to OUT.json.

A sampling or tracing profiler only sees the main thread, and dbt runs every model in a worker
thread; wrapping the few functions that matter measures them in every thread at negligible cost.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clickhouse_connect.driver._backend import chdb_backend
from dbt.cli.main import dbtRunner

from enrich import checkpoints, cli, dbtsession


def statement_key(sql: str) -> str:
    """The statement without dbt's leading comment, ids and numbers, so repeats group together."""
    text = re.sub(r"^\s*/\*.*?\*/", "", sql, flags=re.S)
    text = re.sub(r"[0-9a-f]{8}(_[0-9a-f]{4}){3}_[0-9a-f]{12}", "<id>", text)
    text = re.sub(r"\b\d+\b", "N", text)
    return re.sub(r"\s+", " ", text).strip()[:110]


class Timers:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.statements: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.invocations: list[dict[str, Any]] = []
        # the runner calls dbt synchronously, so one flag tells engine time inside dbt from the runner's
        self.in_dbt = 0
        self.engine_in_dbt = 0.0

    def add(self, bucket: str, seconds: float) -> None:
        with self.lock:
            self.seconds[bucket] += seconds
            self.calls[bucket] += 1

    def wrap(self, owner: Any, name: str, bucket: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(bucket, time.monotonic() - started)

        setattr(owner, name, timed)

    def wrap_engine(self, name: str) -> None:
        original: Callable[..., Any] = getattr(chdb_backend.ChdbBackend, name)

        @functools.wraps(original)
        def timed(backend: Any, sql: str | bytes, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return original(backend, sql, *args, **kwargs)
            finally:
                seconds = time.monotonic() - started
                text = sql.decode(errors="replace") if isinstance(sql, bytes) else sql
                key = statement_key(text)
                with self.lock:
                    self.seconds["engine_sql"] += seconds
                    self.calls["engine_sql"] += 1
                    if self.in_dbt:
                        self.engine_in_dbt += seconds
                    entry = self.statements[key]
                    entry[0] += seconds
                    entry[1] += 1

        setattr(chdb_backend.ChdbBackend, name, timed)

    def wrap_invoke(self) -> None:
        original = dbtRunner.invoke

        @functools.wraps(original)
        def timed(runner: Any, args: list[str], **kwargs: Any) -> Any:
            started, engine_before = time.monotonic(), self.engine_in_dbt
            self.in_dbt += 1
            try:
                return original(runner, args, **kwargs)
            finally:
                self.in_dbt -= 1
                seconds = time.monotonic() - started
                command = next((a for a in args if a in ("parse", "run", "test", "run-operation")), "?")
                self.add("dbt_invocations", seconds)
                self.invocations.append({
                    "command": command,
                    "batch": "--vars" in args,
                    "seconds": round(seconds, 3),
                    "engine_seconds": round(self.engine_in_dbt - engine_before, 3),
                })

        dbtRunner.invoke = timed  # type: ignore[method-assign]

    def install(self) -> None:
        self.wrap_engine("_query_locked")
        self.wrap_engine("_open_stream")
        self.wrap_invoke()
        manifest = dbtsession.DbtSession.manifest
        parse_timed = Timers._timed_property(self, manifest.fget, "dbt_parse")
        dbtsession.DbtSession.manifest = property(parse_timed)  # type: ignore[method-assign]
        for owner, name in ((checkpoints.CheckpointWriter, "commit"), (checkpoints.CheckpointWriter, "sync"),
                            (checkpoints.PgStore, "migrate"), (checkpoints.PgStore, "load")):
            self.wrap(owner, name, "checkpoints")

    @staticmethod
    def _timed_property(timers: Timers, getter: Callable[[Any], Any], bucket: str) -> Callable[[Any], Any]:
        def timed(session: Any) -> Any:
            cached = session._manifest is not None
            started = time.monotonic()
            try:
                return getter(session)
            finally:
                if not cached:
                    timers.add(bucket, time.monotonic() - started)

        return timed

    def report(self, main_seconds: float, returncode: int) -> dict[str, Any]:
        parse = self.seconds["dbt_parse"]
        engine = self.seconds["engine_sql"]
        buckets = {
            "checkpoints": self.seconds["checkpoints"],
            "dbt_parse": parse,
            "engine_sql_in_dbt": self.engine_in_dbt,
            "dbt_framework": self.seconds["dbt_invocations"] - parse - self.engine_in_dbt,
            "engine_sql_runner": engine - self.engine_in_dbt,
        }
        buckets["runner_python_other"] = main_seconds - sum(buckets.values())
        top = sorted(self.statements.items(), key=lambda kv: -kv[1][0])[:12]
        return {
            "returncode": returncode,
            "main_seconds": main_seconds,
            "buckets_seconds": buckets,
            "calls": dict(self.calls),
            "invocations": self.invocations,
            "top_statements": [{"sql": k, "seconds": round(v[0], 3), "calls": v[1]} for k, v in top],
        }


def main() -> int:
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    timers = Timers()
    timers.install()
    started = time.monotonic()
    returncode = 1
    try:
        returncode = cli.main(argv)
    finally:
        out.write_text(json.dumps(timers.report(time.monotonic() - started, returncode), indent=1))
    return returncode


if __name__ == "__main__":
    sys.exit(main())
