from dbt.tests.adapter.basic.test_empty import BaseEmpty


class TestEmpty(BaseEmpty):
    pass
