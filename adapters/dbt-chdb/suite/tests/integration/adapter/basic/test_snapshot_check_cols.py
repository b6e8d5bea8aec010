from dbt.tests.adapter.basic.test_snapshot_check_cols import BaseSnapshotCheckCols


class TestSnapshotCheckCols(BaseSnapshotCheckCols):
    pass
