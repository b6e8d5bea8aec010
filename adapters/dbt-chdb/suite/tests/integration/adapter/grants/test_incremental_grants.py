from dbt.tests.adapter.grants.test_incremental_grants import BaseIncrementalGrants


class TestIncrementalGrants(BaseIncrementalGrants):
    pass
