from dbt.tests.adapter.basic.test_validate_connection import BaseValidateConnection


class TestValidateConnection(BaseValidateConnection):
    pass
