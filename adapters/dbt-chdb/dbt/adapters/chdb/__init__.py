"""dbt adapter plugin ``chdb``: dbt-clickhouse on the in-process chDB engine.

Everything but client creation is inherited from dbt-clickhouse: the plugin declares a
dependency on the ``clickhouse`` adapter, so dbt resolves every ``clickhouse__`` macro and
materialization for ``type: chdb`` targets too.

``Plugin`` is built on first access (dbt reads it as an attribute after importing this package),
so importing ``dbt.adapters.chdb.engine`` alone does not import dbt.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "Plugin":
        raise AttributeError(name)
    from dbt.adapters.base import AdapterPlugin
    from dbt.adapters.chdb.connections import ChdbConnectionManager  # noqa: F401
    from dbt.adapters.chdb.credentials import ChdbCredentials
    from dbt.adapters.chdb.impl import ChdbAdapter
    from dbt.include import chdb

    plugin = AdapterPlugin(
        adapter=ChdbAdapter,
        credentials=ChdbCredentials,
        include_path=chdb.PACKAGE_PATH,
        dependencies=["clickhouse"],
    )
    globals()["Plugin"] = plugin
    return plugin
