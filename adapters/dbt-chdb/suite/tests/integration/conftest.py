"""dbt-clickhouse's integration fixtures, replaced for ``type: chdb``.

Upstream's conftest starts or reaches a ClickHouse server, creates test users over HTTP and writes a
``type: clickhouse`` profile. Here the engine is in-process: the profile names a data directory, one
per pytest process, because chDB opens a single data path per process and never lets it go.
Everything the tests read from ``test_config`` keeps upstream's keys.
"""

import os
import random
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

# chDB allows one data path per process: every test class of this process shares it, and the
# schemas dbt-tests-adapter creates per class keep them apart
_DATA_PATH = os.environ.get("DBT_CHDB_TEST_PATH") or tempfile.mkdtemp(prefix="dbt-chdb-suite-")


@pytest.fixture(scope="session", autouse=True)
def ch_test_users() -> Iterator[list[str]]:
    # upstream creates these users on the server; chDB has no access control (no CREATE USER), so
    # the grants tests that use them fail and SUITE.md says why
    yield [os.environ.setdefault(f"DBT_TEST_USER_{x}", f"dbt_test_user_{x}") for x in range(1, 4)]


@pytest.fixture(scope="session", autouse=True)
def ch_test_version() -> Iterator[str]:
    # the engine's version, so helpers.below_version() gates features as it would on a server
    yield os.environ.get("DBT_CH_TEST_CH_VERSION", "latest")


@pytest.fixture(scope="session")
def test_config(ch_test_users: list[str], ch_test_version: str) -> Iterator[dict[str, Any]]:
    yield {
        "driver": "chdb",
        "host": "",
        "port": 0,
        "user": "default",
        "password": "",
        # no cluster: chDB is one embedded node
        "cluster": "",
        "db_engine": os.environ.get("DBT_CH_TEST_DB_ENGINE", ""),
        "secure": False,
        "cluster_mode": False,
        "database": "",
        "path": _DATA_PATH,
    }


@pytest.fixture(scope="class")
def dbt_profile_target(test_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "chdb",
        "path": test_config["path"],
        # one in-process engine: dbt's threads share it; 4 as upstream, to keep its concurrency tests
        "threads": 4,
        "user": test_config["user"],
        "password": test_config["password"],
        "cluster": test_config["cluster"],
        "database_engine": test_config["db_engine"],
        "cluster_mode": test_config["cluster_mode"],
        "check_exchange": False,
        "use_lw_deletes": True,
        "custom_settings": {"input_format_skip_unknown_fields": 1},
    }


@pytest.fixture(scope="class")
def prefix() -> str:
    return f"dbt_clickhouse_{random.randint(1000, 9999)}"


@pytest.fixture(scope="class")
def unique_schema(request: pytest.FixtureRequest, prefix: str) -> str:
    test_file = request.module.__name__.split(".")[-1]
    return f"{prefix}_{test_file}_{int(time.time() * 1000)}"
