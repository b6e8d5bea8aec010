from dbt.tests.adapter.unit_testing.test_quoted_reserved_word_column_names import (
    BaseUnitTestQuotedReservedWordColumnNames,
)


class TestQuotedReservedWordColumnNames(BaseUnitTestQuotedReservedWordColumnNames):
    pass
