{# A mart's Parquet for the lake, written right after the mart is built, while dbt builds
   the others: into the folder the orchestration names (SUPPLYLOOP_EXPORT_DIR), from which
   it moves the files into the lake once the whole build has passed. A daily mart
   (meta.day_column) is written by month (<mart>/month=YYYY-MM/part-0.parquet), and an
   incremental build writes only the months of its window; any other mart is one file,
   <mart>.parquet. Nothing when the folder is not set (dbt run by hand) or off DuckDB.

   The same rows give the same bytes: every file is written sorted by all its columns
   (a mart's rows sit in its table in the order DuckDB's threads happened to insert them),
   and by an ordered, single-file COPY, which keeps that order and cuts the same row
   groups whatever the threads. A partitioned COPY would not: its threads append to a
   month's file in the order they finish. So each month is a COPY of its own, into a folder
   a partitioned COPY of the months' names made (it leaves a months-0.csv beside each
   month's Parquet, which publishing ignores).
   The months are bounded by dates, so the day column is compared as it is stored (its zone
   maps skip the other months), not cast to the timestamp date_trunc() returns. #}
{% macro export_mart() -%}
    {%- set folder = env_var("SUPPLYLOOP_EXPORT_DIR", "") if execute else "" -%}
    {%- if folder and target.type == 'duckdb' -%}
        {%- set target_path = (folder ~ "/" ~ this.identifier) | replace("'", "''") -%}
        {%- set options = "format parquet, compression zstd" -%}
        {%- set day_column = config.get('meta', {}).get('day_column') -%}
        {%- if day_column -%}
            {%- set window = build_window() -%}
            {%- set month = "strftime(date_trunc('month', " ~ day_column ~ "), '%Y-%m')" -%}
            {%- set months_query -%}
                select distinct {{ month }} as month from {{ this }}
                {%- if window %}
                where {{ day_column }} >= cast('{{ window[0][:7] }}-01' as date)
                    and {{ day_column }} < cast(cast('{{ window[1][:7] }}-01' as date) + interval 1 month as date)
                {%- endif %}
                order by month
            {%- endset -%}
            {%- set months = run_query(months_query).columns[0].values() -%}
            {%- if months | length -%}
                copy ({{ months_query }}) to '{{ target_path }}'
                    (format csv, partition_by (month), write_partition_columns true, filename_pattern 'months-{i}');
                {%- for value in months %}
                {%- if value is none %}
                copy (select * from {{ this }} where {{ day_column }} is null order by all)
                    to '{{ target_path }}/month=NULL/part-0.parquet' ({{ options }});
                {%- else %}
                copy (
                    select * from {{ this }}
                    where {{ day_column }} >= cast('{{ value }}-01' as date)
                        and {{ day_column }} < cast(cast('{{ value }}-01' as date) + interval 1 month as date)
                    order by all
                ) to '{{ target_path }}/month={{ value }}/part-0.parquet' ({{ options }});
                {%- endif %}
                {%- endfor %}
            {%- endif -%}
        {%- else -%}
            copy (select * from {{ this }} order by all) to '{{ target_path }}.parquet' ({{ options }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
