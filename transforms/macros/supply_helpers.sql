{#- Small helpers of the supply models, written once so the SQL reads in business words
    and stays portable to the engines a later target may use (Trino / Athena). -#}

{# numerator / denominator as a double, null when the denominator is not positive
   (a ratio over nothing is unknown, not zero; and no integer division on any engine) #}
{% macro supply_ratio(numerator, denominator) -%}
    case when ({{ denominator }}) > 0 then cast({{ numerator }} as double) / ({{ denominator }}) end
{%- endmacro %}


{# the continuous percentile of an expression within a group (fraction between 0 and 1) #}
{% macro supply_percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('supply_percentile')(expression, fraction)) }}
{%- endmacro %}

{% macro default__supply_percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro trino__supply_percentile(expression, fraction) -%}
    approx_percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro athena__supply_percentile(expression, fraction) -%}
    approx_percentile({{ expression }}, {{ fraction }})
{%- endmacro %}


{# A timestamp with time zone as the local wall-clock time of the session's TimeZone
   (Asia/Shanghai in profiles.yml), so that day boundaries are local midnights. #}
{% macro supply_local_time(expression) -%}
    {{ return(adapter.dispatch('supply_local_time')(expression)) }}
{%- endmacro %}

{% macro default__supply_local_time(expression) -%}
    cast({{ expression }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro trino__supply_local_time(expression) -%}
    cast({{ expression }} at time zone 'Asia/Shanghai' as timestamp)
{%- endmacro %}

{% macro athena__supply_local_time(expression) -%}
    cast({{ expression }} at time zone 'Asia/Shanghai' as timestamp)
{%- endmacro %}


{# The minute boundaries crossed from one instant to a later one, as dbt.datediff counts them
   on DuckDB and Trino (10:00:50 to 10:01:10 is one minute). dbt-spark's datediff rounds the
   elapsed seconds up instead (10:00:10 to 10:01:50 would be two), so Spark counts the
   boundaries itself. #}
{% macro minutes_between(earlier, later) -%}
    {{ return(adapter.dispatch('minutes_between')(earlier, later)) }}
{%- endmacro %}

{% macro default__minutes_between(earlier, later) -%}
    {{ dbt.datediff(earlier, later, 'minute') }}
{%- endmacro %}

{% macro spark__minutes_between(earlier, later) -%}
    (floor(unix_timestamp({{ later }}) / 60) - floor(unix_timestamp({{ earlier }}) / 60))
{%- endmacro %}
