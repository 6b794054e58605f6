-- One row per accuracy measurement of the demand forecast on held-out history: the method is
-- fitted on history up to backtest_days before the last day (the 'backtest' origin, same code
-- as the forward forecast) and its forecasts for the held-out days are compared with what sold.
--   level 'overall'        all SKUs, regions and held-out days
--   level 'festival_days'  only the held-out days inside a festival (calendar)
--   level 'ordinary_days'  only the other held-out days
--   level 'sku_class'      the SKUs of one class (segment: fast, slow, intermittent or new;
--                          int_demand_sku_classes_assigned, from the history before the cut-off)
--   level 'sku'            one SKU, all regions and held-out days (sku is null on the other
--                          levels; segment is the SKU's class)
-- Errors are taken at the forecast's grain (SKU x region x day) and summed:
--   wape       = sum |actual - forecast| / sum actual      (null when nothing sold)
--   naive_wape = the same for the seasonal-naive baseline: each held-out day gets the actual
--                of the same weekday in the last week before the cut-off
--   band_coverage = share of SKU x region x day actuals inside the 80% band (calibrated on
--                the errors of an earlier origin, never on these days: int_demand_forecasts_banded)
with

origins as (
    select cutoff_day from {{ ref('int_demand_forecast_origins_listed') }} where forecast_origin = 'backtest'
),

forecasts as (
    select * from {{ ref('int_demand_forecasts_banded') }} where forecast_origin = 'backtest'
),

sku_classes as (
    select sku, sku_class from {{ ref('int_demand_sku_classes_assigned') }} where forecast_origin = 'backtest'
),

actuals as (
    -- the held-out days and the naive forecast's last week before them
    select sku, region, demand_day, demand_units from {{ ref('int_demand_days_filled') }}
    where demand_day > (select {{ demand_add_days(-7, 'cutoff_day') }} from origins)
),

held_out_series_days as (
    select
        forecasts.sku,
        forecasts.region,
        forecasts.forecast_day,
        forecasts.is_festival,
        forecasts.method,
        coalesce(sku_classes.sku_class, 'new') as sku_class,
        coalesce(actual.demand_units, 0) as actual_units,
        forecasts.forecast_units,
        coalesce(last_week.demand_units, 0) as naive_units,
        case
            when coalesce(actual.demand_units, 0) between forecasts.forecast_lower and forecasts.forecast_upper then 1
            else 0
        end as within_band
    from forecasts
    cross join origins
    left join sku_classes on sku_classes.sku = forecasts.sku
    left join actuals as actual
        on actual.sku = forecasts.sku
        and actual.region = forecasts.region
        and actual.demand_day = forecasts.forecast_day
    left join actuals as last_week
        on last_week.sku = forecasts.sku
        and last_week.region = forecasts.region
        and last_week.demand_day = {{ demand_add_days('(forecasts.horizon_day - 1) % 7 - 6', 'origins.cutoff_day') }}
),

measured as (
    select 'overall' as level, cast(null as {{ dbt.type_string() }}) as segment, cast(null as {{ dbt.type_string() }}) as scope_sku, held_out_series_days.*
    from held_out_series_days

    union all

    select
        case when is_festival then 'festival_days' else 'ordinary_days' end as level,
        cast(null as {{ dbt.type_string() }}) as segment,
        cast(null as {{ dbt.type_string() }}) as scope_sku,
        held_out_series_days.*
    from held_out_series_days

    union all

    select 'sku_class' as level, sku_class as segment, cast(null as {{ dbt.type_string() }}) as scope_sku, held_out_series_days.*
    from held_out_series_days

    union all

    select 'sku' as level, sku_class as segment, held_out_series_days.sku as scope_sku, held_out_series_days.*
    from held_out_series_days
),

accuracy as (
    select
        level,
        segment,
        scope_sku as sku,
        count(distinct forecast_day) as holdout_days,
        min(forecast_day) as first_holdout_day,
        max(forecast_day) as last_holdout_day,
        sum(actual_units) as actual_units,
        {{ exact_sum('forecast_units') }} as forecast_units,
        sum(naive_units) as naive_units,
        {{ exact_sum('abs(actual_units - forecast_units)') }} as abs_error,
        sum(abs(actual_units - naive_units)) as naive_abs_error,
        avg(within_band) as band_coverage,
        max(method) as method
    from measured
    group by level, segment, scope_sku
)

select
    accuracy.level,
    accuracy.segment,
    accuracy.sku,
    origins.cutoff_day,
    accuracy.first_holdout_day,
    accuracy.last_holdout_day,
    cast(accuracy.holdout_days as integer) as holdout_days,
    cast(accuracy.actual_units as bigint) as actual_units,
    cast(round(accuracy.forecast_units, 2) as double) as forecast_units,
    cast(accuracy.naive_units as bigint) as naive_units,
    cast(round(accuracy.abs_error, 2) as double) as abs_error,
    cast(round(accuracy.naive_abs_error, 2) as double) as naive_abs_error,
    cast(round(accuracy.abs_error / nullif(accuracy.actual_units, 0), 4) as double) as wape,
    cast(round(accuracy.naive_abs_error / nullif(accuracy.actual_units, 0), 4) as double) as naive_wape,
    cast(round((accuracy.forecast_units - accuracy.actual_units) / nullif(accuracy.actual_units, 0), 4) as double) as bias,
    case
        when accuracy.actual_units > 0 then accuracy.abs_error < accuracy.naive_abs_error
    end as beats_naive,
    cast(round(accuracy.band_coverage, 4) as double) as band_coverage,
    case when accuracy.level = 'sku' then accuracy.method end as method
from accuracy
cross join origins
