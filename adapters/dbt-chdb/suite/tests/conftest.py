"""dbt-clickhouse's tests/conftest.py, as it is upstream: UTC, and dbt's project fixtures as a plugin."""

import os
import time

os.environ["TZ"] = "UTC"
time.tzset()

# dbt-tests-adapter's fixtures (project, adapter, unique_schema, ...); session-scoped ones stay local
pytest_plugins = ["dbt.tests.fixtures.project"]
