{# The days an incremental run rebuilds: the orchestration passes the first and last
   business day whose bronze changed (vars start_day, end_day). A full build, or a first
   build, takes every day. days_before widens the window back, for models that compare a
   day with the days before it. #}
{% macro in_build_window(day_column, days_before=0) -%}
    {%- if is_incremental() -%}
        {{ day_column }} between cast({{ dbt.dateadd('day', -days_before, "cast('" ~ var("start_day") ~ "' as date)") }} as date)
            and cast('{{ var("end_day") }}' as date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# Run before an incremental daily mart inserts its days: drop the rows of those days
   (a range delete, cheap on DuckDB's zone maps, where a keyed delete+insert is not). #}
{% macro clear_build_window(day_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_build_window(day_column) }}
    {%- endif -%}
{%- endmacro %}
