{# The days an incremental run rebuilds: the orchestration passes the first and last
   business day whose bronze changed (SUPPLYLOOP_START_DAY, SUPPLYLOOP_END_DAY). They are
   environment variables, not --vars, because dbt re-parses the whole project whenever
   --vars change, and only the files that use a changed variable otherwise. A full build,
   or a first build, takes every day. days_before widens the window back, for models that
   compare a day with the days before it; onward opens it forward, for models that redo every
   day from the window's first on. #}
{% macro in_build_window(day_column, days_before=0, onward=false) -%}
    {%- if is_incremental() -%}
        {{ build_window_filter(day_column, days_before, onward) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# The window's first day, 'YYYY-MM-DD', or '' when the build has no window (a full build, a
   dbt run by hand) and at parse time: every macro and test that asks for the window reads
   it here, when the SQL runs, so a new window does not make dbt re-parse anything. #}
{% macro build_window_start_day() -%}
    {%- do return(env_var("SUPPLYLOOP_START_DAY", "") if execute else "") -%}
{%- endmacro %}

{# The window as a filter anywhere (tests too): `true` in a full build. `window` ([first day,
   last day], from tested_window) filters on other days than the build window's. #}
{% macro build_window_filter(day_column, days_before=0, onward=false, window=none) -%}
    {%- set window = window or build_window() -%}
    {%- if window -%}
        {%- set lower = "cast(" ~ dbt.dateadd('day', -days_before, "cast('" ~ window[0] ~ "' as date)") ~ " as date)" -%}
        {%- if onward -%}
            {{ day_column }} >= {{ lower }}
        {%- else -%}
            {{ day_column }} between {{ lower }} and cast('{{ window[1] }}' as date)
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# The build window as [first day, last day], or none (a full build). #}
{% macro build_window() -%}
    {%- set start_day = build_window_start_day() -%}
    {%- do return([start_day, env_var("SUPPLYLOOP_END_DAY")] if start_day else none) -%}
{%- endmacro %}

{# In a data test: the days it looks at, [first day, last day], or none for every day.
   An incremental build's tests look at its window. A full build that only a master-data
   snapshot forced passes the days whose bronze changed (SUPPLYLOOP_BRONZE_START_DAY and
   _END_DAY; none may have): a test that reads one staging model of a daily source and
   nothing else looks at those days only, since every other day is the same bronze through
   the same SQL as the last build, which tested it. Tests of the models, which join the new
   master data, and tests that read master data themselves see every day. #}
{% macro tested_window() -%}
    {%- set window = build_window() -%}
    {%- if window or not execute -%}
        {%- do return(window) -%}
    {%- endif -%}
    {%- set bronze_start = env_var("SUPPLYLOOP_BRONZE_START_DAY", "") -%}
    {%- set tested = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- if bronze_start and tested and tested.config.schema == 'staging' and model.depends_on.nodes | length == 1 -%}
        {%- do return([bronze_start, env_var("SUPPLYLOOP_BRONZE_END_DAY")]) -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{# The window's first day as a date (an incremental build's only). #}
{% macro build_window_start() -%}
    cast('{{ build_window_start_day() }}' as date)
{%- endmacro %}

{# Data tests of a model built by day (meta.day_column) look at the days tested_window gives:
   the days outside it were tested when they were built and have not changed since. Every
   such model's keys include its day, so a window-scoped uniqueness test is a whole one. This
   overrides dbt's get_where_subquery, which wraps the relation a generic test reads. #}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set day_column = tested_model_day_column() -%}
    {%- set filters = [] -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {#- unique_across_days scopes itself: it looks up the window's ids in every day -#}
    {%- if execute and model.test_metadata and model.test_metadata.name == 'unique_across_days' -%}
        {%- set day_column = none -%}
    {%- endif -%}
    {%- set window = tested_window() if day_column else none -%}
    {%- if window -%}
        {%- do filters.append(build_window_filter(day_column, window=window)) -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ (filters | join(" and ")) ~ ") dbt_subquery") -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{# In a data test: the day column (meta.day_column) of the model it tests, or none. #}
{% macro tested_model_day_column() -%}
    {%- if execute and model.attached_node and model.attached_node in graph.nodes -%}
        {%- do return(graph.nodes[model.attached_node].config.meta.get('day_column')) -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{# Run before an incremental daily mart inserts its days: drop the rows of those days, or of
   every day from the window's first on (onward), days_before that first day included. A range
   delete, cheap on DuckDB's zone maps, where a keyed delete+insert is not. Spark's plain
   Parquet tables (no Delta or Iceberg here) cannot delete rows, so on Spark an incremental
   model is built in full each time (--full-refresh; its `append` strategy then only names
   what an incremental run would do) and an incremental run stops here, saying so. #}
{% macro clear_build_window(day_column, onward=false, days_before=0) -%}
    {%- if is_incremental() and target.type == 'spark' -%}
        {{ exceptions.raise_compiler_error("Spark's plain Parquet tables cannot delete the days " ~ this ~ " rebuilds: on DBT_TARGET=spark every build is a full one (dbt build --full-refresh)") }}
    {%- elif is_incremental() -%}
        delete from {{ this }} where {{ in_build_window(day_column, days_before=days_before, onward=onward) }}
    {%- endif -%}
{%- endmacro %}

{# A full build of a heavy daily model, a month at a time: the model's SQL once per month of
   history, joined by UNION ALL, each copy reading only its month (the filter reaches the
   bronze partitions). Its aggregations then hold one month of groups at a time, not the
   whole history's: a year of daily demand (ten million order lines, distinct orders per
   day) builds in about two thirds of the time of one pass, and a longer history needs no more
   memory than a year. An incremental build is one pass over its window, and so is a build
   that does not know the history (dbt run by hand): the orchestration passes the history's
   first and last day (SUPPLYLOOP_HISTORY_FIRST_DAY, SUPPLYLOOP_HISTORY_LAST_DAY). The first
   month also takes any earlier day and the last any later one, so every row is built
   whatever the two days say. Use it as

       {% call(window) by_month('order_day') %} ... where {{ window }} ... {% endcall %}

   where the model would otherwise write {{ in_build_window('order_day') }}. Every key of
   such a model includes its day, so the months' results never overlap. #}
{% macro by_month(day_column) -%}
    {%- set months = [] if is_incremental() else history_months() -%}
    {%- if months | length < 2 -%}
        {{ caller(in_build_window(day_column)) }}
    {%- else -%}
        {%- for month in months -%}
            {%- set bounds = [] -%}
            {%- if not loop.first -%}
                {%- do bounds.append(day_column ~ " >= date '" ~ month ~ "'") -%}
            {%- endif -%}
            {%- if not loop.last -%}
                {%- set upper = day_column ~ " < date '" ~ months[loop.index] ~ "'" -%}
                {%- do bounds.append("(" ~ upper ~ " or " ~ day_column ~ " is null)" if loop.first else upper) -%}
            {%- endif %}
select * from (
{{ caller(bounds | join(' and ')) }}
) as month_{{ loop.index }}
{% if not loop.last %}union all{% endif %}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{# The first days of the months from SUPPLYLOOP_HISTORY_FIRST_DAY to ..._LAST_DAY, as
   'YYYY-MM-01'; none when they are not set. Read when the SQL runs, like the window. #}
{% macro history_months() -%}
    {%- set first = env_var("SUPPLYLOOP_HISTORY_FIRST_DAY", "") if execute else "" -%}
    {%- set last = history_last_day() -%}
    {%- if not (first and last) -%}
        {%- do return([]) -%}
    {%- endif -%}
    {%- set start = first[:4] | int * 12 + first[5:7] | int - 1 -%}
    {%- set stop = last[:4] | int * 12 + last[5:7] | int - 1 -%}
    {%- set months = [] -%}
    {%- for index in range(start, stop + 1) -%}
        {%- do months.append("%04d-%02d-01" | format(index // 12, index % 12 + 1)) -%}
    {%- endfor -%}
    {%- do return(months) -%}
{%- endmacro %}

{# The history's last business day, 'YYYY-MM-DD': SUPPLYLOOP_HISTORY_LAST_DAY, which the
   orchestration passes to every build, full or incremental; '' in a dbt run by hand and at
   parse time. #}
{% macro history_last_day() -%}
    {%- do return(env_var("SUPPLYLOOP_HISTORY_LAST_DAY", "") if execute else "") -%}
{%- endmacro %}

{# A filter to the last `days` business days of the history (its last day included), for the
   definitions that look back a fixed span instead of over every day: on a day column that
   is the bronze partition (a staging model's `day as ...`), the read skips every older
   day's files, so what the model costs stops growing with the history. `true` where the
   history's last day is not known (a dbt run by hand reads every day). #}
{% macro in_trailing_days(day_column, days) -%}
    {%- set last = history_last_day() -%}
    {%- if last -%}
        {{ day_column }} > cast({{ dbt.dateadd('day', -days, "cast('" ~ last ~ "' as date)") }} as date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
