{# Schemas named for their layer (staging, intermediate, marts), not prefixed by the target.
   On Athena a schema is a Glue database, shared by the whole account, and so it is for Spark
   on EMR Serverless (the Glue catalog is its metastore): there the layer is prefixed by the
   target's schema (supplyloop_staging, supplyloop_marts, ...). #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name and target.type in ('athena', 'spark') -%}
        {{ target.schema }}_{{ custom_schema_name }}
    {%- else -%}
        {{ custom_schema_name if custom_schema_name else target.schema }}
    {%- endif -%}
{%- endmacro %}
