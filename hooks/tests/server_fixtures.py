"""The embedded engine served over ClickHouse's HTTP interface (chdb_http.py) as a test's server.

The server process runs in a working directory of its own (its user_files), so a path of the
client's reaches it only if the file travels in the request, as with a real server.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client

SERVER = Path(__file__).with_name("chdb_http.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ChdbServer:
    port: int
    user: str
    password: str
    user_files: Path
    cluster: str | None = None

    def env(self, database: str = "polymarket") -> dict[str, str]:
        """CLICKHOUSE_* settings that point the `server` and `cluster` targets here."""
        env = {"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(self.port),
               "CLICKHOUSE_USER": self.user, "CLICKHOUSE_PASSWORD": self.password,
               "CLICKHOUSE_DATABASE": database}
        if self.cluster:
            env["CLICKHOUSE_CLUSTER"] = self.cluster
        return env

    def client(self, **kwargs: object) -> Client:
        options: dict[str, object] = {"username": self.user, "password": self.password, **kwargs}
        return clickhouse_connect.get_client(host="127.0.0.1", port=self.port, **options)

    def recorded(self) -> dict[str, list]:
        """The cluster recorder's DDL statements and violations so far."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_recorder", timeout=30) as response:
            return json.loads(response.read())


@contextmanager
def chdb_server(root: Path, user: str = "enrich", password: str = "s3cret-pw",
                cluster: str | None = None) -> Iterator[ChdbServer]:
    """Start chdb_http.py on a free loopback port with its data under ROOT; stop it on exit."""
    user_files = root / "user_files"
    user_files.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, str(SERVER), "--data", str(root / "data"), "--port", str(port),
               "--user", user, "--password", password]
    if cluster:
        command += ["--cluster", cluster]
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(command, cwd=user_files, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_text = (root / "server.log").read_text()
                    raise RuntimeError(f"chdb_http did not start: {log_text}") from None
                time.sleep(0.2)
        yield ChdbServer(port, user, password, user_files, cluster)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
