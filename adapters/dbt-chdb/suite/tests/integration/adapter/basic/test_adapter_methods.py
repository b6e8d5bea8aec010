from dbt.tests.adapter.basic.test_adapter_methods import BaseAdapterMethod


class TestBaseAdapterMethod(BaseAdapterMethod):
    pass


class TestBaseCaching(BaseAdapterMethod):
    pass
