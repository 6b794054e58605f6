-- One row per SKU, region and day of the next forecast_horizon_days days after the last day of
-- history: the demand forecast in units (paid + refunded, i.e. ordered and not cancelled), its
-- 80% band (calibrated on the backtest's errors), the factors it is made of (level x trend x weekday index x festival uplift) and how
-- far to trust it (the SKU's and the whole forecast's WAPE in forecast_backtest).
-- The method is documented in int_demand_forecasts_fitted.
with

forecasts as (
    select * from {{ ref('int_demand_forecasts_banded') }} where forecast_origin = 'forward'
),

backtest_per_sku as (
    select sku, wape, naive_wape from {{ ref('forecast_backtest') }} where level = 'sku'
)

select
    forecasts.sku,
    forecasts.region,
    forecasts.forecast_day,
    forecasts.horizon_day,
    forecasts.day_of_week,
    forecasts.forecast_units,
    forecasts.forecast_lower,
    forecasts.forecast_upper,
    forecasts.level_units,
    forecasts.trend_factor,
    forecasts.weekday_index,
    forecasts.is_festival,
    forecasts.festival,
    forecasts.festival_phase,
    forecasts.festival_uplift,
    forecasts.method,
    forecasts.stockout_days as stockout_days_left_out,
    forecasts.cutoff_day as history_last_day,
    backtest_per_sku.wape as sku_backtest_wape,
    backtest_per_sku.naive_wape as sku_backtest_naive_wape,
    (select wape from {{ ref('forecast_backtest') }} where level = 'overall') as overall_backtest_wape
from forecasts
left join backtest_per_sku on backtest_per_sku.sku = forecasts.sku
