from dbt.tests.adapter.basic.test_generic_tests import BaseGenericTests


class TestGenericTests(BaseGenericTests):
    pass
