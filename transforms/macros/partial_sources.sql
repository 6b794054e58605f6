{# Partial sources: a platform may deliver any subset of the canonical sources.

   The orchestration (orchestration/lib/coverage.py) names, when it starts a build, the
   sources this platform does not deliver (SUPPLYLOOP_ABSENT_SOURCES) and the models that
   cannot be built without them (SUPPLYLOOP_SKIPPED_MODELS, also excluded from `dbt build`),
   each a comma-separated list. They are read when the SQL runs, like the build window, so a
   new list does not make dbt re-parse anything; unset (dbt run by hand), every source is
   read as it is.

   A model declares in its YAML what it needs (`meta: {needs: [stock_snapshots]}`: skipped
   without it) and which of its columns an absent source empties
   (`meta: {affected_by: {live_sessions: [live_conversion]}}`: built, those columns zero or
   null). #}

{# A staging model's bronze table: the source itself, or, when the platform does not deliver
   it (or, for the pipeline's own ledgers, before anything wrote one: SUPPLYLOOP_EMPTY_LEDGERS,
   orchestration/lib/warehouse.py), an empty relation with the source's columns and types (_sources.yml), plus `day` for a
   daily source, so every model that merely uses the source still builds. #}
{% macro bronze_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if bronze_source_is_empty(source_name, table_name) -%}
        {%- set node = graph.sources["source." ~ project_name ~ "." ~ source_name ~ "." ~ table_name] -%}
        {%- set extra = {"day": "date"} if node.meta.get("partitioned_by_day") else {} -%}
        {{ empty_relation(node, extra) }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{# Whether a bronze table stands in as an empty relation: the platform does not deliver it, or
   it is one of the pipeline's ledgers that nothing wrote yet. #}
{% macro bronze_source_is_empty(source_name, table_name) -%}
    {%- do return(table_name in absent_sources() or (source_name == 'ledger' and table_name in _name_list("SUPPLYLOOP_EMPTY_LEDGERS"))) -%}
{%- endmacro %}

{# A model another model reads only if it was built: the model, or, when it is skipped (a
   source it needs is absent), an empty relation with its contract's columns. The reading
   model declares the absent source in its own `affected_by`, so that it is not skipped too. #}
{% macro ref_unless_skipped(model_name) -%}
    {%- set relation = ref(model_name) -%}
    {%- if model_name in skipped_models() -%}
        {{ empty_relation(graph.nodes["model." ~ project_name ~ "." ~ model_name]) }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro absent_sources() -%}
    {%- do return(_name_list("SUPPLYLOOP_ABSENT_SOURCES")) -%}
{%- endmacro %}

{% macro skipped_models() -%}
    {%- do return(_name_list("SUPPLYLOOP_SKIPPED_MODELS")) -%}
{%- endmacro %}

{% macro _name_list(variable) -%}
    {%- set value = env_var(variable, "") if execute else "" -%}
    {%- do return(value.split(",") | map("trim") | reject("equalto", "") | list) -%}
{%- endmacro %}

{# No rows, the columns of a source or model node (each needs its data_type) and `extra`
   ({name: type}). #}
{% macro empty_relation(node, extra={}) -%}
    {%- set columns = [] -%}
    {%- for column in node.columns.values() -%}
        {%- if not column.data_type -%}
            {{ exceptions.raise_compiler_error("empty_relation: column " ~ node.name ~ "." ~ column.name ~ " has no data_type in its YAML; an absent source needs every column's type to stand in for it") }}
        {%- endif -%}
        {%- do columns.append((column.name, column.data_type)) -%}
    {%- endfor -%}
    {%- for name, data_type in extra.items() -%}
        {%- do columns.append((name, data_type)) -%}
    {%- endfor -%}
    (select
    {%- for name, data_type in columns %}
        cast(null as {{ empty_column_type(data_type) }}) as {{ adapter.quote(name) }}{{ "," if not loop.last }}
    {%- endfor %}
    where 1 = 0)
{%- endmacro %}

{# A declared type as this engine names it: bronze timestamps are UTC instants, which DuckDB
   reads as timestamptz; Spark names text `string` (its varchar needs a length). #}
{% macro empty_column_type(data_type) -%}
    {%- set declared = data_type | lower -%}
    {%- if declared == "string" and target.type != "spark" -%}
        varchar
    {%- elif declared == "timestamp" and target.type == "duckdb" -%}
        timestamptz
    {%- else -%}
        {{ data_type }}
    {%- endif -%}
{%- endmacro %}
