-- One row per forecast origin and day of week (1 = Monday .. 7 = Sunday): how much a weekday
-- sells relative to an average day, estimated on the whole platform's demand over the
-- weekday_window_days before the origin's cut-off, festival days left out.
--   weekday_index = mean demand on that weekday / mean of the seven weekday means
-- so the seven indices average 1. Platform-wide on purpose: one SKU in one region is far too
-- sparse to have its own weekly rhythm, while the rhythm itself (weekends sell more) is shared.
{%- set weekday_window_days = var('forecast_weekday_window_days', 112) %}
with

origins as (
    select forecast_origin, cutoff_day from {{ ref('int_demand_forecast_origins_listed') }}
),

platform_days as (
    select demand_day, sum(demand_units) as demand_units
    from {{ ref('int_demand_days_filled') }}
    group by demand_day
),

festival_days as (
    select distinct calendar_day from {{ ref('int_festival_days_listed') }}
),

ordinary_days_before_cutoff as (
    select
        origins.forecast_origin,
        {{ demand_day_of_week('platform_days.demand_day') }} as day_of_week,
        platform_days.demand_units
    from origins
    inner join platform_days
        on platform_days.demand_day <= origins.cutoff_day
        and platform_days.demand_day > {{ demand_add_days(-weekday_window_days, 'origins.cutoff_day') }}
    left join festival_days on festival_days.calendar_day = platform_days.demand_day
    where festival_days.calendar_day is null
),

weekday_means as (
    select forecast_origin, day_of_week, avg(demand_units) as mean_units, count(*) as days_seen
    from ordinary_days_before_cutoff
    group by forecast_origin, day_of_week
),

week_means as (
    select forecast_origin, {{ exact_avg('mean_units') }} as mean_units
    from weekday_means
    group by forecast_origin
),

weekdays as (
    {{ dbt.generate_series(7) }}
)

select
    origins.forecast_origin,
    cast(weekdays.generated_number as integer) as day_of_week,
    cast(coalesce(weekday_means.days_seen, 0) as integer) as days_seen,
    cast(round(coalesce(weekday_means.mean_units / nullif(week_means.mean_units, 0), 1.0), 4) as double) as weekday_index
from origins
cross join weekdays
left join weekday_means
    on weekday_means.forecast_origin = origins.forecast_origin
    and weekday_means.day_of_week = weekdays.generated_number
left join week_means on week_means.forecast_origin = origins.forecast_origin
