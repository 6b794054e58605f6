{#
    Small date helpers for the demand models, built on dbt's cross-database macros so the
    same SQL compiles for DuckDB and for a Trino/Athena target.
#}

{# A date `days` days after `day` (negative: before), as a date (DuckDB's date + interval is a timestamp). #}
{% macro demand_add_days(days, day) -%}
    cast({{ dbt.dateadd('day', days, day) }} as date)
{%- endmacro %}

{# Whole days from `first_day` to `second_day` (positive when second_day is later). #}
{% macro demand_days_between(first_day, second_day) -%}
    {{ dbt.datediff(first_day, second_day, 'day') }}
{%- endmacro %}

{# ISO day of week, 1 = Monday .. 7 = Sunday: days since a known Monday (2000-01-03), modulo 7. #}
{% macro demand_day_of_week(day) -%}
    (((({{ dbt.datediff("cast('2000-01-03' as date)", day, 'day') }}) % 7) + 7) % 7 + 1)
{%- endmacro %}
