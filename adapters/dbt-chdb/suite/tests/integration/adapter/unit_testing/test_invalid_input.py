from dbt.tests.adapter.unit_testing.test_invalid_input import BaseUnitTestInvalidInput


class TestInvalidInput(BaseUnitTestInvalidInput):
    pass
