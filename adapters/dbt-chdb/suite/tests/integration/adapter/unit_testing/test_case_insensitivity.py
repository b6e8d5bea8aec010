from dbt.tests.adapter.unit_testing.test_case_insensitivity import BaseUnitTestCaseInsensivity


class TestCaseInsensivity(BaseUnitTestCaseInsensivity):
    pass
