from dbt.tests.adapter.basic.test_base import BaseSimpleMaterializations


class TestBaseSimpleMaterializations(BaseSimpleMaterializations):
    pass
