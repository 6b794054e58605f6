-- One row per forecast origin: the day the forecast method stops looking at history.
--   forward   cut off at the last day of history; forecasts the next forecast_horizon_days days
--   backtest  cut off backtest_days earlier (at most half the history, so a short history
--             still gets a backtest); forecasts the held-out days, which forecast_backtest
--             compares with what really sold
--   calibration  cut off backtest_days before the backtest's cut-off (at most half the
--             history before it); its errors on the days up to the backtest's cut-off set the
--             backtest's 80% band, as the backtest's errors set the forward forecast's
--             (int_demand_forecasts_banded): each band is calibrated on days its origin has seen
-- Both origins run through the same models (weekday indices, festival uplifts, forecast), so
-- the backtest measures exactly the method that produces the forward forecast.
with

history as (
    select min(demand_day) as first_history_day, max(demand_day) as last_history_day
    from {{ ref('int_demand_days_filled') }}
),

held_out as (
    select
        *,
        least({{ var('backtest_days') }}, cast(floor(({{ dbt.datediff('first_history_day', 'last_history_day', 'day') }} + 1) / 2) as integer))
            as backtest_days
    from history
),

calibrated as (
    select
        *,
        -- the history before the backtest's cut-off, halved the same way
        least(
            backtest_days,
            cast(floor(({{ dbt.datediff('first_history_day', 'last_history_day', 'day') }} + 1 - backtest_days) / 2) as integer)
        ) as calibration_days
    from held_out
),

origins as (
    select
        'forward' as forecast_origin,
        last_history_day as cutoff_day,
        {{ var('forecast_horizon_days') }} as horizon_days,
        first_history_day,
        last_history_day
    from history

    union all

    select
        'backtest' as forecast_origin,
        {{ demand_add_days('-1 * backtest_days', 'last_history_day') }} as cutoff_day,
        backtest_days as horizon_days,
        first_history_day,
        last_history_day
    from held_out

    union all

    select
        'calibration' as forecast_origin,
        {{ demand_add_days('-1 * (backtest_days + calibration_days)', 'last_history_day') }} as cutoff_day,
        calibration_days as horizon_days,
        first_history_day,
        last_history_day
    from calibrated
    where calibration_days > 0
)

select
    forecast_origin,
    cutoff_day,
    cast(horizon_days as integer) as horizon_days,
    {{ demand_add_days(1, 'cutoff_day') }} as first_forecast_day,
    {{ demand_add_days('horizon_days', 'cutoff_day') }} as last_forecast_day,
    first_history_day,
    last_history_day
from origins
where cutoff_day >= first_history_day
