{#- Combinations of `columns` that occur more than once (a multi-column `unique`). -#}
{% test unique_combination(model, columns) %}
with combinations as (
    select {{ columns | join(', ') }}, count() as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having occurrences > 1
),

final as (
    select * from combinations
)

select * from final
{% endtest %}
