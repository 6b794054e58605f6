{# Registers the bronze lake in the catalog, for a target that reads it as tables (Athena,
   Spark): one external Parquet table per source table of _sources.yml, with its declared
   columns, over <lake_root>/bronze/<entity>/. Tables are dropped and created again (an
   external table's drop leaves its files alone), so a new column in _sources.yml arrives by
   running it again.
   - Athena (Glue catalog): daily facts (meta partitioned_by_day) are partitioned by `day`
     with partition projection, so a day that lands is visible at once: no crawler, no
     MSCK REPAIR. The lake must be on S3.
   - Spark (its metastore): daily facts are partitioned by `day`, and the day= folders
     there are found when the table is made (ALTER TABLE ... RECOVER PARTITIONS): run it
     again after days land. The lake is a folder (absolute) or s3://. A source the platform
     does not deliver, and a ledger nothing wrote yet (SUPPLYLOOP_EMPTY_LEDGERS), has no
     folder to read: it gets no table, and its staging model reads an empty relation
     (bronze_source, macros/partial_sources.sql).

       DBT_TARGET=athena dbt run-operation create_bronze_tables
       DBT_TARGET=spark dbt run-operation create_bronze_tables --args '{dry_run: true}'   # print the DDL only

   lake_root: the lake (default LAKE_ROOT); first_day: the first day partition projection
   offers on Athena (the lake's history_start or earlier). #}
{% macro create_bronze_tables(lake_root=none, first_day='2020-01-01', dry_run=false) -%}
    {%- set lake_root = (lake_root or env_var('LAKE_ROOT', '')).rstrip('/') -%}
    {%- if target.type == 'spark' -%}
        {%- if not (lake_root.startswith('/') or '://' in lake_root) -%}
            {{ exceptions.raise_compiler_error("create_bronze_tables: Spark needs the lake as an absolute folder or a URI (tables keep their location), got LAKE_ROOT=" ~ (lake_root or "(unset)") ~ "; set LAKE_ROOT=/path/to/lake or s3://bucket/prefix") }}
        {%- endif -%}
    {%- elif not lake_root.startswith('s3://') -%}
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
        {%- if not (target.type == 'spark' and bronze_source_is_empty(source.source_name, source.name)) -%}
            {%- set folder = ('_' if source.meta.get('ledger') else '') ~ source.name -%}
            {%- do statements.append(bronze_table_ddl(source, lake_root ~ "/bronze/" ~ folder ~ "/", first_day)) -%}
            {%- if target.type == 'spark' and source.meta.get('partitioned_by_day') -%}
                {%- do statements.append("alter table `" ~ source.schema ~ "`.`" ~ source.name ~ "` recover partitions") -%}
            {%- endif -%}
        {%- endif -%}
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

{# The DDL of one source table as an external Parquet table. #}
{% macro bronze_table_ddl(source, location, first_day) -%}
    {{ return(adapter.dispatch('bronze_table_ddl')(source, location, first_day)) }}
{%- endmacro %}

{# A source's declared columns as DDL, "`name` type", each; every one needs its data_type. #}
{% macro bronze_columns(source) -%}
    {%- set columns = [] -%}
    {%- for column in source.columns.values() -%}
        {%- if not column.data_type -%}
            {{ exceptions.raise_compiler_error("create_bronze_tables: column " ~ source.source_name ~ "." ~ source.name ~ "." ~ column.name ~ " has no data_type in _sources.yml") }}
        {%- endif -%}
        {%- do columns.append("`" ~ column.name ~ "` " ~ column.data_type) -%}
    {%- endfor -%}
    {%- do return(columns) -%}
{%- endmacro %}

{# Hive DDL, as Athena takes it: the partition column apart from the columns. #}
{% macro default__bronze_table_ddl(source, location, first_day) -%}
    {%- set columns = bronze_columns(source) -%}
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

{# Spark's data source table: the partition column is one of the columns, and its values are
   read from the day= folder names. #}
{% macro spark__bronze_table_ddl(source, location, first_day) -%}
    {%- set columns = bronze_columns(source) -%}
    {%- if source.meta.get('partitioned_by_day') -%}
        {%- do columns.append("`day` date") -%}
    {%- endif -%}
    create table `{{ source.schema }}`.`{{ source.name }}` (
        {{ columns | join(",\n        ") }}
    )
    using parquet
    {%- if source.meta.get('partitioned_by_day') %}
    partitioned by (`day`)
    {%- endif %}
    location '{{ location }}'
{%- endmacro %}
