{{ config(materialized="table") }}

-- One row per SKU, region and trading day of history: the units demanded (paid + refunded)
-- that day, zero when the SKU sold nothing in that region.
-- Series: every SKU x region pair that ever had demand. Trading days: every day with at least
-- one order line anywhere (a day missing from the lake stays missing instead of reading as a
-- day of zero sales). Rows without a SKU or region cannot be forecast and are left out.
with

demand_lines as (
    -- the daily aggregate, not the order lines: its cost follows days x series, not lines
    select order_day, sku, region, demand_units
    from {{ ref('daily_demand') }}
),

trading_days as (
    select distinct order_day as demand_day
    from demand_lines
),

series as (
    select distinct sku, region
    from demand_lines
    where sku is not null and region is not null and demand_units > 0
),

demand_per_day as (
    select sku, region, order_day as demand_day, sum(demand_units) as demand_units
    from demand_lines
    group by sku, region, order_day
)

select
    series.sku,
    series.region,
    trading_days.demand_day,
    cast(coalesce(demand_per_day.demand_units, 0) as bigint) as demand_units
from series
cross join trading_days
left join demand_per_day
    on series.sku = demand_per_day.sku
    and series.region = demand_per_day.region
    and trading_days.demand_day = demand_per_day.demand_day
