{#- What Apache Spark (DBT_TARGET=spark) needs beyond the models' portable SQL: the contracts'
    types in Spark's names, and the limits of its plain Parquet tables. -#}

{# A contract's declared type as Spark names it. The marts' YAML declares DuckDB's names
   (the local build's types, which the BI tools and the feeds see); Spark spells some of them
   differently: text is `string` (its varchar needs a length), an instant is `timestamp`
   (Spark's timestamp is one, shown in the session's time zone), a 32-bit integer is `int`. #}
{% macro spark_type(data_type) -%}
    {%- set declared = data_type | trim | lower -%}
    {%- set names = {
        "varchar": "string",
        "text": "string",
        "timestamp with time zone": "timestamp",
        "timestamptz": "timestamp",
        "integer": "int",
        "hugeint": "decimal(38,0)",
    } -%}
    {%- do return(names.get(declared, data_type)) -%}
{%- endmacro %}

{# The contract check's empty query (dbt's get_empty_schema_sql), with the declared types in
   Spark's names, so that Spark checks the same contracts DuckDB does. #}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set translated = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = column.copy() if column is mapping else column -%}
        {%- if copy.get('data_type') -%}
            {%- do copy.update({'data_type': spark_type(copy['data_type'])}) -%}
        {%- endif -%}
        {%- do translated.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(translated)) }}
{%- endmacro %}
