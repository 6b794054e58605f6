{# A mart's Parquet for the lake, written right after the mart is built, while dbt builds
   the others: into the folder the orchestration names (SUPPLYLOOP_EXPORT_DIR), from which
   it publishes the files once the whole build has passed. A daily mart (meta.day_column)
   is written by day (<mart>/day=YYYY-MM-DD/part-0.parquet), and an incremental build writes
   only the days from SUPPLYLOOP_EXPORT_FROM_DAY on (its window's, and a few before, which
   a mart may rebuild too; publishing stores only the files whose content changed, so a new
   day publishes about a day's worth: orchestration/lib/warehouse.py); any other mart is one
   file, <mart>.parquet. Nothing when the folder is not set (dbt run by hand) or off DuckDB.

   The same rows give the same bytes: every file is written sorted by all its columns
   (a mart's rows sit in its table in the order DuckDB's threads happened to insert them),
   and by an ordered, single-file COPY, which keeps that order and cuts the same row
   groups whatever the threads. A partitioned COPY would not: its threads append to a
   day's file in the order they finish. So each day is a COPY of its own, into a folder a
   partitioned COPY of the days' names made (it leaves a days-0.csv beside each day's
   Parquet, which publishing ignores). The day column is compared with a date, as it is
   stored, so its zone maps skip the other days. #}
{% macro export_mart() -%}
    {%- set folder = env_var("SUPPLYLOOP_EXPORT_DIR", "") if execute else "" -%}
    {%- if folder and target.type == 'duckdb' -%}
        {%- set target_path = (folder ~ "/" ~ this.identifier) | replace("'", "''") -%}
        {%- set options = "format parquet, compression zstd" -%}
        {%- set day_column = config.get('meta', {}).get('day_column') -%}
        {%- if day_column -%}
            {%- set export_from = env_var("SUPPLYLOOP_EXPORT_FROM_DAY", "") -%}
            {%- set days_query -%}
                select distinct strftime({{ day_column }}, '%Y-%m-%d') as day from {{ this }}
                {%- if export_from %}
                where {{ day_column }} >= cast('{{ export_from }}' as date)
                {%- endif %}
                order by day
            {%- endset -%}
            {%- set days = run_query(days_query).columns[0].values() -%}
            {%- if days | length -%}
                copy ({{ days_query }}) to '{{ target_path }}'
                    (format csv, partition_by (day), write_partition_columns true, filename_pattern 'days-{i}');
                {%- for value in days %}
                {%- if value is none %}
                copy (select * from {{ this }} where {{ day_column }} is null order by all)
                    to '{{ target_path }}/day=NULL/part-0.parquet' ({{ options }});
                {%- else %}
                copy (select * from {{ this }} where {{ day_column }} = cast('{{ value }}' as date) order by all)
                    to '{{ target_path }}/day={{ value }}/part-0.parquet' ({{ options }});
                {%- endif %}
                {%- endfor %}
            {%- endif -%}
        {%- else -%}
            copy (select * from {{ this }} order by all) to '{{ target_path }}.parquet' ({{ options }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
