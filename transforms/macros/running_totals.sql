{# First in, first out by running totals: the units of each SKU and warehouse are numbered in
   the order they moved (received, sent, ordered), and a range of one numbering is matched to
   the ranges of another that overlap it. An incremental build numbers its window's rows on
   from where the rows before the window left off: the pre-hook deleted the window's days, so
   the largest number the model still holds per pair is where the count resumes. #}

{# The running total of `value` per warehouse_id and sku of `rows` (an alias), in `order_by`
   order, on top of `carried` (a column of the pair_totals_before CTE) in an incremental build. #}
{% macro pair_running_total(value, rows, order_by, carried) -%}
    {% if is_incremental() %}coalesce({{ carried }}, 0){% else %}0{% endif %}
        + cast(sum({{ value }}) over (
            partition by {{ rows }}.warehouse_id, {{ rows }}.sku
            order by {{ order_by }}
            rows between unbounded preceding and current row
        ) as bigint)
{%- endmacro %}

{# In an incremental build, a CTE `totals_before`: per pair, the largest of each of `columns`
   that the model still holds (named <column>_before); renders nothing in a full build. #}
{% macro pair_totals_before(columns) -%}
    {%- if is_incremental() %}
totals_before as (
    select warehouse_id, sku{% for column in columns %}, max({{ column }}) as {{ column }}_before{% endfor %}
    from {{ this }}
    where warehouse_id is not null
    group by warehouse_id, sku
),
    {%- endif %}
{%- endmacro %}

{# The join of `rows` (an alias) to totals_before, in an incremental build. #}
{% macro join_pair_totals_before(rows) -%}
    {%- if is_incremental() %}
    left join totals_before
        on totals_before.warehouse_id = {{ rows }}.warehouse_id
        and totals_before.sku = {{ rows }}.sku
    {%- endif %}
{%- endmacro %}
