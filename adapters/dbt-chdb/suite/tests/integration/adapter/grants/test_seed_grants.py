from dbt.tests.adapter.grants.test_seed_grants import BaseSeedGrants


class TestSeedGrants(BaseSeedGrants):
    pass
