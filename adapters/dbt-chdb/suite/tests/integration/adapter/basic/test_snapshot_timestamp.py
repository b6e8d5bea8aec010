from dbt.tests.adapter.basic.test_snapshot_timestamp import BaseSnapshotTimestamp


class TestSnapshotTimestamp(BaseSnapshotTimestamp):
    pass
