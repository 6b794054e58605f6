-- daily_demand adds up to the order lines it was built from: total units ordered and revenue
-- (net amount of paid lines) equal the sums over stg_sales__order_lines. Returns a row only
-- when they differ. An incremental build checks the days it rebuilt.
{{ config(meta={'dagster': {'ref': {'name': 'daily_demand'}}}) }}
with

mart as (
    select sum(units_ordered) as units_ordered, sum(revenue) as revenue
    from {{ ref('daily_demand') }}
    where {{ build_window_filter('order_day') }}
),

order_lines as (
    select
        sum(qty) as units_ordered,
        sum(case when status = 'paid' then net_amount else 0 end) as revenue
    from {{ ref('stg_sales__order_lines') }}
    where {{ build_window_filter('order_day') }}
)

select
    mart.units_ordered as mart_units_ordered,
    order_lines.units_ordered as order_line_units_ordered,
    mart.revenue as mart_revenue,
    order_lines.revenue as order_line_revenue
from mart
cross join order_lines
where coalesce(mart.units_ordered, 0) <> coalesce(order_lines.units_ordered, 0)
    or coalesce(mart.revenue, 0) <> coalesce(order_lines.revenue, 0)
