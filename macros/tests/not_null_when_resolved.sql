{#- Rows of a resolved condition (is_resolved = 1) whose column is NULL: a resolved position
    always has a realized P&L. -#}
{% test not_null_when_resolved(model, column_name) %}
with failures as (
    select *
    from {{ model }}
    where is_resolved = 1 and {{ column_name }} is null
),

final as (
    select * from failures
)

select * from final
{% endtest %}
