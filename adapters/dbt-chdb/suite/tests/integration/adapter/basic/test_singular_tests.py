from dbt.tests.adapter.basic.test_singular_tests import BaseSingularTests


class TestSingularTests(BaseSingularTests):
    pass
