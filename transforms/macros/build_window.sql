{# The days an incremental run rebuilds: the orchestration passes the first and last
   business day whose bronze changed (SUPPLYLOOP_START_DAY, SUPPLYLOOP_END_DAY). They are
   environment variables, not --vars, because dbt re-parses the whole project whenever
   --vars change, and only the files that use a changed variable otherwise. A full build,
   or a first build, takes every day. days_before widens the window back, for models that compare a
   day with the days before it. #}
{% macro in_build_window(day_column, days_before=0) -%}
    {%- if is_incremental() -%}
        {{ build_window_filter(day_column, days_before) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# The window as a filter anywhere (tests too): `true` in a full build. Read when the SQL
   runs, never at parse time, so a new window does not make dbt re-parse anything. #}
{% macro build_window_filter(day_column, days_before=0) -%}
    {%- set start_day = env_var("SUPPLYLOOP_START_DAY", "") if execute else "" -%}
    {%- if start_day -%}
        {{ day_column }} between cast({{ dbt.dateadd('day', -days_before, "cast('" ~ start_day ~ "' as date)") }} as date)
            and cast('{{ env_var("SUPPLYLOOP_END_DAY") }}' as date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# Data tests of a model built by day (meta.day_column) look at the build window only: the
   days outside it were tested when they were built and have not changed since. Every such
   model's keys include its day, so a window-scoped uniqueness test is a whole one. This
   overrides dbt's get_where_subquery, which wraps the relation a generic test reads. #}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set day_column = none -%}
    {%- if execute and model.attached_node and model.attached_node in graph.nodes -%}
        {%- set day_column = graph.nodes[model.attached_node].config.meta.get('day_column') -%}
    {%- endif -%}
    {%- set filters = [] -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {#- unique_across_days scopes itself: it looks up the window's ids in every day -#}
    {%- if execute and model.test_metadata and model.test_metadata.name == 'unique_across_days' -%}
        {%- set day_column = none -%}
    {%- endif -%}
    {%- if day_column and env_var("SUPPLYLOOP_START_DAY", "") -%}
        {%- do filters.append(build_window_filter(day_column)) -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ (filters | join(" and ")) ~ ") dbt_subquery") -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{# Run before an incremental daily mart inserts its days: drop the rows of those days
   (a range delete, cheap on DuckDB's zone maps, where a keyed delete+insert is not). #}
{% macro clear_build_window(day_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_build_window(day_column) }}
    {%- endif -%}
{%- endmacro %}
