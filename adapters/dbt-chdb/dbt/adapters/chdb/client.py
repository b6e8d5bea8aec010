"""The clickhouse-connect chDB client behind dbt-clickhouse's client wrapper."""

from dbt.adapters.chdb.credentials import ChdbCredentials
from dbt.adapters.chdb.engine import EngineError, open_chdb_client
from dbt.adapters.clickhouse import dbclient
from dbt.adapters.clickhouse.httpclient import ChHttpClient
from dbt.adapters.exceptions import FailedToConnectError

# HTTP-only settings that dbt-clickhouse adds for every client; the embedded engine has no
# HTTP session to attach them to.
_HTTP_ONLY_SETTINGS = ("session_id",)


class ChdbClientWrapper(ChHttpClient):
    def _create_client(self, credentials: ChdbCredentials):
        settings = {k: v for k, v in self._conn_settings.items() if k not in _HTTP_ONLY_SETTINGS}
        try:
            return open_chdb_client(credentials.path, settings)
        except EngineError as ex:
            raise FailedToConnectError(str(ex)) from ex

    def _ensure_database(self, database_engine, cluster_name) -> None:
        # dbt-clickhouse remembers per process that a database exists. The embedded engine's
        # databases can be dropped underneath it (a reset, a test wiping the directory), so
        # always probe again: the probe is in-process and costs microseconds.
        with dbclient._database_lock:
            dbclient._ensured_databases.discard(self.database)
        super()._ensure_database(database_engine, cluster_name)

    def close(self):
        self._client.close()
