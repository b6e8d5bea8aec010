from dbt.tests.adapter.basic.test_ephemeral import BaseEphemeral


class TestEphemeral(BaseEphemeral):
    pass
