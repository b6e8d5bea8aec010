"""dbt adapter plugin ``chdb``: dbt-clickhouse on the in-process chDB engine.

Everything but client creation is inherited from dbt-clickhouse: the plugin declares a
dependency on the ``clickhouse`` adapter, so dbt resolves every ``clickhouse__`` macro and
materialization for ``type: chdb`` targets too.
"""

from dbt.adapters.base import AdapterPlugin
from dbt.adapters.chdb.connections import ChdbConnectionManager  # noqa: F401
from dbt.adapters.chdb.credentials import ChdbCredentials
from dbt.adapters.chdb.impl import ChdbAdapter
from dbt.include import chdb

Plugin = AdapterPlugin(
    adapter=ChdbAdapter,
    credentials=ChdbCredentials,
    include_path=chdb.PACKAGE_PATH,
    dependencies=["clickhouse"],
)
