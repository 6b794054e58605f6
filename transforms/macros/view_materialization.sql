{# Views on DuckDB, kept when their SQL has not changed.

   dbt's default view materialization creates every view again in every build: a new view
   beside the old one, two renames and a drop, each statement binding the view's query (a
   staging view lists and opens the day files of its source to do so). Between two builds
   of the same project and lake a view's SQL is the same text, and DuckDB binds a view's
   query when it is read, so the existing view already reads the new days. This one stores
   a digest of the SQL as the view's comment and, outside a full refresh, leaves a view
   with the same digest as it is. A changed model makes the orchestration's build full
   (`--full-refresh`, from an empty file), which creates every view again; `dbt build` run
   by hand does the same check. (The project sets no grants and persists no docs, so this
   does neither.) #}
{% materialization view, adapter='duckdb' %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set digest = local_md5(sql) -%}
    {%- set unchanged = existing_relation is not none and existing_relation.is_view
        and not should_full_refresh() and view_digest(target_relation) == digest -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- if unchanged %}
        {% call noop_statement('main', 'UNCHANGED', 'UNCHANGED') -%}
            -- {{ target_relation }} is up to date (its SQL has the digest {{ digest }})
        {%- endcall %}
    {%- else %}
        {%- if existing_relation is not none and not existing_relation.is_view %}
            {{ drop_relation_if_exists(existing_relation) }}
        {%- endif %}
        {% call statement('main') -%}
            create or replace view {{ target_relation }} as (
                {{ sql }}
            );
            comment on view {{ target_relation }} is '{{ digest }}'
        {%- endcall %}
    {%- endif %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{# The digest a view was created with (its comment), or none. #}
{% macro view_digest(relation) -%}
    {%- set found = run_query(
        "select comment from duckdb_views() where database_name = '" ~ relation.database
        ~ "' and schema_name = '" ~ relation.schema ~ "' and view_name = '" ~ relation.identifier ~ "'"
    ) -%}
    {%- do return(found.columns[0].values()[0] if found.rows | length else none) -%}
{%- endmacro %}
