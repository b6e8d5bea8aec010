from dbt.tests.adapter.basic.test_singular_tests_ephemeral import BaseSingularTestsEphemeral


class TestSingularTestsEphemeral(BaseSingularTestsEphemeral):
    pass
