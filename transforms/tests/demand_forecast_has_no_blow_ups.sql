-- The forward forecast stays sensible: never negative, inside its own band, and never more
-- than 3x the festival-adjusted best day the series' SKU ever had (a blow-up guard for sparse
-- series). Returns the offending rows.
{{ config(meta={'dagster': {'ref': {'name': 'demand_forecast'}}}) }}
with

forecast as (
    select * from {{ ref('demand_forecast') }}
),

best_days as (
    select sku, max(demand_units) as best_day_units
    from (
        select sku, demand_day, sum(demand_units) as demand_units
        from {{ ref('int_demand_days_filled') }}
        group by sku, demand_day
    ) as sku_days
    group by sku
)

select forecast.*, best_days.best_day_units
from forecast
left join best_days on best_days.sku = forecast.sku
where forecast.forecast_units < 0
    or forecast.forecast_lower > forecast.forecast_units
    or forecast.forecast_upper < forecast.forecast_units
    or forecast.forecast_units > 3 * coalesce(best_days.best_day_units, 0) * greatest(forecast.festival_uplift, 1.0)
