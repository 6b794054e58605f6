{# What BI tools see of the marts, checked before every dbt command runs (on-run-start in
   dbt_project.yml), so that no mart column reaches the warehouse undocumented or misnamed:
   - every mart enforces its contract, so its YAML lists every column it has;
   - every mart and every column has a description (persist_docs writes them into the
     warehouse as table and column comments, which BI tools show);
   - a date column's name ends in _day, a timestamp's in _at.
   Fails with every offence listed; renders no SQL. #}
{% macro check_marts_for_bi() -%}
    {%- if execute -%}
        {%- set problems = [] -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.original_file_path.startswith('models/marts/') -%}
            {%- set where = node.name ~ " (" ~ (node.patch_path or node.original_file_path).split('://')[-1] ~ ")" -%}
            {%- if not node.config.contract.enforced -%}
                {%- do problems.append(where ~ ": no enforced contract, so its YAML need not list its columns") -%}
            {%- endif -%}
            {%- if not (node.description | trim) -%}
                {%- do problems.append(where ~ ": no description") -%}
            {%- endif -%}
            {%- for column in node.columns.values() -%}
                {%- set data_type = (column.data_type or '') | lower -%}
                {%- if not (column.description | trim) -%}
                    {%- do problems.append(where ~ ": column " ~ column.name ~ " has no description") -%}
                {%- endif -%}
                {%- if data_type == 'date' and not column.name.endswith('_day') -%}
                    {%- do problems.append(where ~ ": date column " ~ column.name ~ " does not end in _day") -%}
                {%- endif -%}
                {%- if data_type.startswith('timestamp') and not column.name.endswith('_at') -%}
                    {%- do problems.append(where ~ ": timestamp column " ~ column.name ~ " does not end in _at") -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if problems -%}
            {{ exceptions.raise_compiler_error("the marts are what BI tools show, each table and column with its description:\n  " ~ (problems | sort | join("\n  "))) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
