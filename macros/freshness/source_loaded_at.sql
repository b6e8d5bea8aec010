{#- The load time `dbt source freshness` compares with now (the sources' loaded_at_query). Seeded
    rows have historic times by design, so a check of their newest time always errors and tells the
    operator nothing: a table `enrich seed` wrote (its comment says so, SEED_MARK in
    hooks/enrich/seed.py) counts as loaded when it was seeded. Any `enrich load` replaces that
    comment, so on loaded data it is the newest row's time, and a feed that stopped is stale. -#}
{% macro source_loaded_at(relation, column) %}
select coalesce(
    (select any(parseDateTime64BestEffortOrNull(
                extract(comment, '^enrich seed: synthetic rows seeded at (\\S+)$'), 6, 'UTC'))
     from {{ cluster_system_table('tables') }}
     where database = {{ clickhouse_string_literal(relation.schema) }}
       and name = {{ clickhouse_string_literal(relation.identifier) }}),
    (select max({{ column }}) from {{ relation }}))
{% endmacro %}
