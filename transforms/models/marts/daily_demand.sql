{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('order_day') }}",
    on_schema_change='fail',
    meta={'day_column': 'order_day'},
) }}
-- One row per order day, SKU, region and partner type: what channel partners ordered, sold,
-- had refunded or cancelled, the money it made, and how much of it sold in live-stream sessions.
-- Unit and money buckets are defined once in int_order_lines_enriched.
{% call(window) by_month('order_day') %}
with

order_lines as (
    select * from {{ ref('int_order_lines_enriched') }} where {{ window }}
),

demand_per_day as (
    select
        order_day,
        sku,
        region,
        partner_type,
        sum(units_ordered) as units_ordered,
        sum(units_sold) as units_sold,
        sum(units_refunded) as units_refunded,
        sum(units_cancelled) as units_cancelled,
        sum(demand_units) as demand_units,
        sum(revenue) as revenue,
        sum(refunds) as refunds,
        count(distinct order_id) as orders,
        sum(live_units) as live_units
    from order_lines
    group by order_day, sku, region, partner_type
)

select
    order_day,
    sku,
    region,
    partner_type,
    cast(units_ordered as bigint) as units_ordered,
    cast(units_sold as bigint) as units_sold,
    cast(units_refunded as bigint) as units_refunded,
    cast(units_cancelled as bigint) as units_cancelled,
    cast(demand_units as bigint) as demand_units,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(refunds as decimal(18, 2)) as refunds,
    cast(orders as bigint) as orders,
    cast(live_units as bigint) as live_units,
    cast(live_units as double) / nullif(units_sold, 0) as live_share
from demand_per_day
{% endcall %}
