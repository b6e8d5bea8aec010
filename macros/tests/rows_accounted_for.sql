{#- Every row of a source table is used once, quarantined or collapsed as an identical copy:
    rows_in = used + quarantined + collapsed. Applied to the quarantine model, with the source
    table's name there, the source relation and its validated model. Fails with one row holding
    the four counts when the equation does not hold. -#}
{% test rows_accounted_for(model, source_table, source_relation, validated_relation) %}
with rows_in as (
    select count() as rows_in from {{ source_relation }}
),

used as (
    select count() as used
    from {{ validated_relation }}
    where is_valid = 1
),

rejected as (
    select
        countIf(action = 'quarantined') as quarantined,
        countIf(action = 'collapsed') as collapsed
    from {{ model }}
    where source_table = {{ clickhouse_string_literal(source_table) }}
),

final as (
    select rows_in, used, quarantined, collapsed
    from rows_in
    cross join used
    cross join rejected
    where rows_in != used + quarantined + collapsed
)

select * from final
{% endtest %}
