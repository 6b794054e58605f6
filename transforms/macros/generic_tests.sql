{# Generic data tests shared by every layer (dbt_utils is not a dependency). #}

{# No two rows share the same values in `columns` (a model's grain); nulls count as equal,
   so a roll-up row with a null key is checked too. Returns the duplicated keys. #}
{% test unique_key_columns(model, columns) %}
{%- set day_column = tested_model_day_column() -%}
{%- if day_column in columns and not build_window_start_day() -%}
{#- a full build of a daily model: a month at a time (the key holds the day, so no key spans
    two months), like the model itself, where one pass would hold every key of the history -#}
{% call(window) by_month(day_column) %}{{ duplicated_keys(model, columns, window) }}{% endcall %}
{%- else -%}
{{ duplicated_keys(model, columns) }}
{%- endif %}
{% endtest %}

{% macro duplicated_keys(model, columns, window='true') %}
select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
where {{ window }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endmacro %}

{# Every row satisfies `expression` (rows where it is false or null fail). #}
{% test dbt_expression_is_true(model, column_name, expression) %}
select * from {{ model }} where not coalesce({{ expression }}, false)
{% endtest %}

{# Every value of `column_name` appears once among a year of days (an id). A model built by
   day (meta.day_column) is tested by day elsewhere; this test alone looks across days, so an
   incremental build looks up only the ids of the days it rebuilt, in those days and the
   `lookback_days` before them: a reused id is caught whichever of those days holds its first
   use, reading the one column of a year of days (the bronze files of that year alone), so a
   build costs the same at three years of history as at one. A full build looks across every
   day. #}
{% test unique_across_days(model, column_name, day_column, lookback_days=365) %}
select {{ column_name }}, count(*) as rows_with_this_id
from {{ model }}
{%- set window = tested_window() %}
{%- if window %}
where {{ build_window_filter(day_column, days_before=lookback_days, window=window) }}
    and {{ column_name }} in (select {{ column_name }} from {{ model }} where {{ build_window_filter(day_column, window=window) }})
{%- endif %}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
