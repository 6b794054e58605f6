{{ config(materialized="table") }}

-- One row per forecast origin, SKU, region and forecast day: int_demand_forecasts_fitted's
-- forecast with its 80% band, calibrated on the errors the same method made before
-- (a split-conformal band). The band is
--   forecast -/+ band_multiple x forecast_spread, floored at 0
-- where band_multiple is the 80th percentile of |actual - forecast| / forecast_spread over the
-- series-days the previous origin forecast and history has since seen: the backtest's errors
-- for the forward forecast, the calibration origin's for the backtest (so the backtest's band
-- coverage is measured on days its calibration never saw). Taken per SKU class (fast, slow,
-- intermittent, new: int_demand_sku_classes_assigned, each origin's own), day type (festival
-- or ordinary) and week of the horizon (errors grow with it), from at least min_scores
-- series-days with demand or a forecast; else per class and day type, else per day type, else
-- 1.2816 (the normal 80% band).
-- A table: both demand marts read it, and the calibration reads every origin's forecasts once.
{%- set min_scores = var('forecast_band_min_scores', 50) %}
with

origins as (
    select forecast_origin, cutoff_day from {{ ref('int_demand_forecast_origins_listed') }}
),

-- the origin whose errors calibrate each origin's band
calibrating as (
    select * from (values ('forward', 'backtest'), ('backtest', 'calibration')) as pairs (forecast_origin, calibrated_by)
),

forecasts as (
    select fitted.*, coalesce(classes.sku_class, 'new') as sku_class
    from {{ ref('int_demand_forecasts_fitted') }} as fitted
    left join {{ ref('int_demand_sku_classes_assigned') }} as classes
        on classes.forecast_origin = fitted.forecast_origin
        and classes.sku = fitted.sku
),

actuals as (
    select sku, region, demand_day, demand_units
    from {{ ref('int_demand_days_filled') }}
    where demand_day > (select min(cutoff_day) from origins)
),

-- each calibrating forecast's error in spreads, on days of history (days nobody forecast or
-- sold say nothing about the band)
scores as (
    select
        forecasts.forecast_origin,
        forecasts.sku_class,
        forecasts.is_festival,
        cast(floor((forecasts.horizon_day - 1) / 7) as integer) + 1 as horizon_week,
        case
            when abs(coalesce(actuals.demand_units, 0) - forecasts.forecast_units) = 0 then 0.0
            when forecasts.forecast_spread = 0 then 1000000.0
            else abs(coalesce(actuals.demand_units, 0) - forecasts.forecast_units) / forecasts.forecast_spread
        end as score
    from forecasts
    inner join (select max(demand_day) as last_day from actuals) as history on forecasts.forecast_day <= history.last_day
    left join actuals
        on actuals.sku = forecasts.sku
        and actuals.region = forecasts.region
        and actuals.demand_day = forecasts.forecast_day
    where forecasts.forecast_origin <> 'forward'
        and (coalesce(actuals.demand_units, 0) > 0 or forecasts.forecast_units > 0)
),

ranked_by_week as (
    select
        forecast_origin,
        sku_class,
        is_festival,
        horizon_week,
        score,
        row_number() over (partition by forecast_origin, sku_class, is_festival, horizon_week order by score) as score_rank,
        count(*) over (partition by forecast_origin, sku_class, is_festival, horizon_week) as scores
    from scores
),

ranked_by_class as (
    select
        forecast_origin,
        sku_class,
        is_festival,
        score,
        row_number() over (partition by forecast_origin, sku_class, is_festival order by score) as score_rank,
        count(*) over (partition by forecast_origin, sku_class, is_festival) as scores
    from scores
),

ranked_by_day_type as (
    select
        forecast_origin,
        is_festival,
        score,
        row_number() over (partition by forecast_origin, is_festival order by score) as score_rank,
        count(*) over (partition by forecast_origin, is_festival) as scores
    from scores
),

-- the 80th percentile: the smallest score at or above which 80% of the scores lie below or on
weekly_multiples as (
    select forecast_origin, sku_class, is_festival, horizon_week, score as band_multiple
    from ranked_by_week
    where scores >= {{ min_scores }} and score_rank = cast(ceil(0.8 * scores) as integer)
),

class_multiples as (
    select forecast_origin, sku_class, is_festival, score as band_multiple
    from ranked_by_class
    where scores >= {{ min_scores }} and score_rank = cast(ceil(0.8 * scores) as integer)
),

day_type_multiples as (
    select forecast_origin, is_festival, score as band_multiple
    from ranked_by_day_type
    where scores >= {{ min_scores }} and score_rank = cast(ceil(0.8 * scores) as integer)
),

banded as (
    select
        forecasts.*,
        least(
            coalesce(
                weekly_multiples.band_multiple, class_multiples.band_multiple, day_type_multiples.band_multiple, 1.2816
            ),
            20.0
        ) as band_multiple
    from forecasts
    left join calibrating on calibrating.forecast_origin = forecasts.forecast_origin
    left join weekly_multiples
        on weekly_multiples.forecast_origin = calibrating.calibrated_by
        and weekly_multiples.sku_class = forecasts.sku_class
        and weekly_multiples.is_festival = forecasts.is_festival
        and weekly_multiples.horizon_week = cast(floor((forecasts.horizon_day - 1) / 7) as integer) + 1
    left join class_multiples
        on class_multiples.forecast_origin = calibrating.calibrated_by
        and class_multiples.sku_class = forecasts.sku_class
        and class_multiples.is_festival = forecasts.is_festival
    left join day_type_multiples
        on day_type_multiples.forecast_origin = calibrating.calibrated_by
        and day_type_multiples.is_festival = forecasts.is_festival
)

select
    forecast_origin,
    cutoff_day,
    sku,
    region,
    forecast_day,
    horizon_day,
    day_of_week,
    weekday_index,
    festival,
    festival_phase,
    is_festival,
    festival_uplift,
    level_units,
    trend_factor,
    forecast_units,
    forecast_spread,
    cast(round(band_multiple, 4) as double) as band_multiple,
    cast(round(greatest(forecast_units - band_multiple * forecast_spread, 0), 2) as double) as forecast_lower,
    cast(round(forecast_units + band_multiple * forecast_spread, 2) as double) as forecast_upper,
    stockout_days,
    method
from banded
