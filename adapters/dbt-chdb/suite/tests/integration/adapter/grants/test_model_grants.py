from dbt.tests.adapter.grants.test_model_grants import BaseModelGrants


class TestModelGrants(BaseModelGrants):
    pass
