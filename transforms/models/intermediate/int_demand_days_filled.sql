{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('demand_day') }}",
    on_schema_change='fail',
    meta={'day_column': 'demand_day'},
) }}

-- One row per SKU, region and trading day of history: the units demanded (paid + refunded)
-- that day, zero when the SKU sold nothing in that region.
-- Series: every SKU x region pair that ever had demand. Trading days: every day with at least
-- one order line anywhere (a day missing from the lake stays missing instead of reading as a
-- day of zero sales). Rows without a SKU or region cannot be forecast and are left out.
-- An incremental build fills only the days it rebuilds, for every series, and gives a series
-- that first sells in them its zeros on every earlier trading day: the cost follows the new
-- days, not the history. (A series whose only demand is withdrawn by a rebuilt day keeps its
-- zero rows until the next full build.)
with

demand_lines as (
    -- the daily aggregate, not the order lines: its cost follows days x series, not lines
    select order_day, sku, region, demand_units
    from {{ ref('daily_demand') }}
    where {{ in_build_window('order_day') }}
),

trading_days as (
    select distinct order_day as demand_day
    from demand_lines
),

selling_series as (
    select distinct sku, region
    from demand_lines
    where sku is not null and region is not null and demand_units > 0
),

{% if is_incremental() %}
-- what the build already holds: the days outside the window (the pre-hook dropped the rest)
known_series as (
    select distinct sku, region from {{ this }}
),

held_days as (
    select distinct demand_day from {{ this }}
),

series as (
    select sku, region from known_series
    union
    select sku, region from selling_series
),
{% else %}
series as (
    select sku, region from selling_series
),
{% endif %}

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
{% if is_incremental() %}
union all
-- a series that first sells in the window: zero on every trading day the build already holds
select selling_series.sku, selling_series.region, held_days.demand_day, cast(0 as bigint) as demand_units
from selling_series
cross join held_days
where not exists (
    select 1 from known_series
    where known_series.sku = selling_series.sku and known_series.region = selling_series.region
)
{% endif %}
