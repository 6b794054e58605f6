{# Registers the bronze lake in the Glue catalog, for a target that reads it as tables
   (Athena): one external Parquet table per source table of _sources.yml, with its declared
   columns, over <lake_root>/bronze/<entity>/. Daily facts (meta partitioned_by_day) are
   partitioned by `day` with partition projection, so a day that lands is visible at once:
   no crawler, no MSCK REPAIR. Tables are dropped and created again (an external table's
   drop leaves its files alone), so a new column in _sources.yml arrives by running it again.

       DBT_TARGET=athena dbt run-operation create_bronze_tables
       DBT_TARGET=athena dbt run-operation create_bronze_tables --args '{dry_run: true}'   # print the DDL only

   lake_root: the lake on S3 (default LAKE_ROOT); first_day: the first day partition
   projection offers (the lake's history_start or earlier). #}
{% macro create_bronze_tables(lake_root=none, first_day='2020-01-01', dry_run=false) -%}
    {%- set lake_root = (lake_root or env_var('LAKE_ROOT', '')).rstrip('/') -%}
    {%- if not lake_root.startswith('s3://') -%}
        {{ exceptions.raise_compiler_error("create_bronze_tables: the lake must be on S3 for " ~ target.type ~ ", got LAKE_ROOT=" ~ (lake_root or "(unset)") ~ "; set LAKE_ROOT=s3://bucket/prefix or pass --args '{lake_root: s3://bucket/prefix}'") }}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- set schemas = [] -%}
    {%- for source in graph.sources.values() if source.package_name == project_name -%}
        {%- if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) -%}
            {%- do statements.append("create database if not exists `" ~ source.schema ~ "`") -%}
        {%- endif -%}
        {%- do statements.append("drop table if exists `" ~ source.schema ~ "`.`" ~ source.name ~ "`") -%}
        {%- set folder = ('_' if source.meta.get('ledger') else '') ~ source.name -%}
        {%- do statements.append(bronze_table_ddl(source, lake_root ~ "/bronze/" ~ folder ~ "/", first_day)) -%}
    {%- endfor -%}
    {%- for statement in statements -%}
        {%- if dry_run -%}
            {{ print(statement ~ ";\n") }}
        {%- else -%}
            {%- do run_query(statement) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log("create_bronze_tables: " ~ (statements | length) ~ " statements " ~ ("printed" if dry_run else "run") ~ " for " ~ (schemas | join(", ")) ~ " over " ~ lake_root ~ "/bronze", info=true) }}
{%- endmacro %}

{# The Hive DDL of one source table as an external Parquet table. #}
{% macro bronze_table_ddl(source, location, first_day) -%}
    {%- set columns = [] -%}
    {%- for column in source.columns.values() -%}
        {%- if not column.data_type -%}
            {{ exceptions.raise_compiler_error("create_bronze_tables: column " ~ source.source_name ~ "." ~ source.name ~ "." ~ column.name ~ " has no data_type in _sources.yml") }}
        {%- endif -%}
        {%- do columns.append("`" ~ column.name ~ "` " ~ column.data_type) -%}
    {%- endfor -%}
    create external table `{{ source.schema }}`.`{{ source.name }}` (
        {{ columns | join(",\n        ") }}
    )
    {%- if source.meta.get('partitioned_by_day') %}
    partitioned by (`day` date)
    {%- endif %}
    stored as parquet
    location '{{ location }}'
    {%- if source.meta.get('partitioned_by_day') %}
    tblproperties (
        'projection.enabled' = 'true',
        'projection.day.type' = 'date',
        'projection.day.format' = 'yyyy-MM-dd',
        'projection.day.range' = '{{ first_day }},NOW',
        'projection.day.interval' = '1',
        'projection.day.interval.unit' = 'DAYS',
        'storage.location.template' = '{{ location }}day=${day}/'
    )
    {%- endif %}
{%- endmacro %}
