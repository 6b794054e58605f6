-- Every SKU x region of the forecast has exactly forecast_horizon_days consecutive days, starting
-- the day after the last day of history, and every series with demand in the last 28 days is
-- forecast. Returns the series that fall short.
{{ config(meta={'dagster': {'ref': {'name': 'demand_forecast'}}}) }}
{%- set horizon = var('forecast_horizon_days') %}
with

forecast as (
    select * from {{ ref('demand_forecast') }}
),

last_history_day as (
    select max(demand_day) as last_day from {{ ref('int_demand_days_filled') }}
),

series_coverage as (
    select sku, region, count(*) as days, min(forecast_day) as first_day, max(forecast_day) as last_day
    from forecast
    group by sku, region
),

recently_selling_series as (
    select distinct demand_days.sku, demand_days.region
    from {{ ref('int_demand_days_filled') }} as demand_days
    cross join last_history_day
    where demand_days.demand_units > 0
        and demand_days.demand_day > {{ demand_add_days(-28, 'last_history_day.last_day') }}
)

select series_coverage.sku, series_coverage.region, 'wrong days' as problem
from series_coverage
cross join last_history_day
where series_coverage.days <> {{ horizon }}
    or series_coverage.first_day <> {{ demand_add_days(1, 'last_history_day.last_day') }}
    or series_coverage.last_day <> {{ demand_add_days(horizon, 'last_history_day.last_day') }}

union all

select recently_selling_series.sku, recently_selling_series.region, 'not forecast' as problem
from recently_selling_series
left join series_coverage
    on series_coverage.sku = recently_selling_series.sku
    and series_coverage.region = recently_selling_series.region
where series_coverage.sku is null
