from dbt.tests.adapter.grants.test_snapshot_grants import BaseSnapshotGrants


class TestSnapshotGrants(BaseSnapshotGrants):
    pass
