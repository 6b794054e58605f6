{# Generic data tests shared by every layer (dbt_utils is not a dependency). #}

{# No two rows share the same values in `columns` (a model's grain); nulls count as equal,
   so a roll-up row with a null key is checked too. Returns the duplicated keys. #}
{% test unique_key_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{# Every row satisfies `expression` (rows where it is false or null fail). #}
{% test dbt_expression_is_true(model, column_name, expression) %}
select * from {{ model }} where not coalesce({{ expression }}, false)
{% endtest %}
