"""Connections to the warehouse the dbt profile points at, for the work dbt does not do."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from enrich.config import Config
from enrich.errors import EnrichError


@dataclass(frozen=True)
class Target:
    """The parts of the rendered dbt target the Python side needs."""

    name: str
    type: str
    database: str
    # repr=False: the credentials hold the password, and a Target may end up in a log line.
    credentials: Any = field(repr=False)

    @property
    def embedded(self) -> bool:
        return self.type == "chdb"


def resolve_target(config: Config) -> Target:
    """Render `profiles/profiles.yml` as dbt does (enrich.profile), so both sides see one warehouse."""
    from enrich.profile import render_target

    name, credentials = render_target(config.profiles_dir, config.target)
    return Target(name=name, type=credentials.type, database=credentials.schema, credentials=credentials)


def connect(target: Target) -> Client:
    """A clickhouse-connect client for the target: the embedded engine or an HTTP server."""
    creds = target.credentials
    if target.embedded:
        from dbt.adapters.chdb.engine import open_chdb_client

        return open_chdb_client(creds.path)
    try:
        quiet_transport_logs()
        # The connection options dbt-clickhouse takes from the same profile (ChHttpClient._create_client),
        # so both sides reach the warehouse the same way: TLS, certificates, compression, settings.
        return clickhouse_connect.get_client(
            host=creds.host,
            port=creds.port,
            username=creds.user,
            password=creds.password,
            secure=creds.secure,
            verify=creds.verify,
            client_cert=creds.client_cert,
            client_cert_key=creds.client_cert_key,
            server_host_name=creds.server_host_name,
            compress=bool(creds.compression),
            settings=dict(creds.custom_settings or {}),
            connect_timeout=creds.connect_timeout,
            send_receive_timeout=creds.send_receive_timeout,
        )
    except ClickHouseError as ex:
        # An operator error (server down, wrong host or login), not a bug: one line, no traceback,
        # and never the password, whatever the driver put in its message.
        reason = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
        if creds.password:
            reason = reason.replace(creds.password, "***")
        raise EnrichError(
            f"cannot connect to the ClickHouse server {creds.host}:{creds.port} of target {target.name} "
            f"as user {creds.user}: {reason}; check CLICKHOUSE_HOST/PORT/USER/PASSWORD "
            "(environment or .env.local)"
        ) from None


def quiet_transport_logs() -> None:
    """The HTTP driver logs each retry and failure as a WARNING; the EnrichError raised after them
    says it once, in one line, so only errors of those loggers get through."""
    for name in ("urllib3", "clickhouse_connect"):
        logging.getLogger(name).setLevel(logging.ERROR)


def quote_identifier(name: str) -> str:
    """Backquote a database or table name; values never go through here, only bound parameters."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def table(database: str, name: str) -> str:
    return f"{quote_identifier(database)}.{quote_identifier(name)}"


def identity(target: Target) -> str:
    """What a run locks and checkpoints: the warehouse itself, not the home that reaches it."""
    creds = target.credentials
    if target.embedded:
        return f"chdb:{os.path.realpath(creds.path)}/{target.database}"
    return f"clickhouse://{creds.host}:{creds.port}/{target.database}"
