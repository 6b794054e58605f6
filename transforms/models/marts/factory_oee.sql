-- One row per factory, production line and local day (Asia/Shanghai): where the line's time
-- went, and its OEE = availability x performance x quality.
--   shift_minutes    the day's minutes outside the off-shift idle (shift_end): 08:00-24:00
--   planned_minutes  shift minutes less planned stops (holiday idle, planned maintenance)
--                    = running + changeover + down + idle minutes
--   availability     running / planned minutes
--   performance      (good + scrap) / (running hours x the line's ideal units per hour),
--                    capped at 1; the ideal rate is the 95th percentile of the line's
--                    hourly output over the last 365 days (int_line_ideal_rates_estimated)
--   quality          good / (good + scrap)
--   oee              availability x performance x quality; 0 when the line had planned time
--                    but made nothing, null when it had no planned time (holiday, no data)

with

state_pieces as (
    -- a piece's minutes are its whole seconds / 60: summed as those seconds, they add up
    -- exactly in any order (fractions of a minute, as doubles, do not)
    select
        factory_id,
        line_id,
        production_day,
        time_category,
        cast(round(minutes * 60) as bigint) as seconds
    from {{ ref('int_machine_states_timed') }}
),

line_minutes as (
    select
        factory_id,
        line_id,
        production_day,
        cast(sum(case when time_category <> 'off_shift' then seconds else 0 end) as double) / 60 as shift_minutes,
        cast(sum(case when time_category = 'planned_stop' then seconds else 0 end) as double) / 60 as planned_stop_minutes,
        cast(sum(case when time_category = 'running' then seconds else 0 end) as double) / 60 as running_minutes,
        cast(sum(case when time_category = 'down' then seconds else 0 end) as double) / 60 as down_minutes,
        cast(sum(case when time_category = 'changeover' then seconds else 0 end) as double) / 60 as changeover_minutes,
        cast(sum(case when time_category = 'idle' then seconds else 0 end) as double) / 60 as idle_minutes
    from state_pieces
    group by factory_id, line_id, production_day
),

line_output as (
    -- from the daily output per SKU, built by day, not from every hour of history
    select
        factory_id,
        line_id,
        production_day,
        cast(sum(qty_good) as bigint) as qty_good,
        cast(sum(qty_scrap) as bigint) as qty_scrap
    from {{ ref('daily_supply') }}
    group by factory_id, line_id, production_day
),

ideal_rates as (
    select factory_id, line_id, ideal_units_per_hour
    from {{ ref('int_line_ideal_rates_estimated') }}
),

factories as (
    select factory_id, supplier_id
    from {{ ref('stg_master__factories') }}
),

line_days as (
    select
        coalesce(line_minutes.factory_id, line_output.factory_id) as factory_id,
        coalesce(line_minutes.line_id, line_output.line_id) as line_id,
        coalesce(line_minutes.production_day, line_output.production_day) as production_day,
        coalesce(line_minutes.shift_minutes, 0) as shift_minutes,
        coalesce(line_minutes.planned_stop_minutes, 0) as planned_stop_minutes,
        coalesce(line_minutes.shift_minutes - line_minutes.planned_stop_minutes, 0) as planned_minutes,
        coalesce(line_minutes.running_minutes, 0) as running_minutes,
        coalesce(line_minutes.down_minutes, 0) as down_minutes,
        coalesce(line_minutes.changeover_minutes, 0) as changeover_minutes,
        coalesce(line_minutes.idle_minutes, 0) as idle_minutes,
        coalesce(line_output.qty_good, 0) as qty_good,
        coalesce(line_output.qty_scrap, 0) as qty_scrap
    from line_minutes
    full outer join line_output
        on line_output.factory_id = line_minutes.factory_id
        and line_output.line_id = line_minutes.line_id
        and line_output.production_day = line_minutes.production_day
),

factors_before_cap as (
    select
        line_days.*,
        ideal_rates.ideal_units_per_hour,
        {{ supply_ratio('running_minutes', 'planned_minutes') }} as availability,
        {{ supply_ratio('qty_good + qty_scrap', 'running_minutes / 60 * ideal_rates.ideal_units_per_hour') }}
            as performance_uncapped,
        {{ supply_ratio('qty_good', 'qty_good + qty_scrap') }} as quality
    from line_days
    left join ideal_rates
        on ideal_rates.factory_id = line_days.factory_id
        and ideal_rates.line_id = line_days.line_id
),

oee_factors as (
    -- a line cannot beat its ideal rate for long: performance above 1 counts as 1
    select
        factors_before_cap.*,
        case when performance_uncapped > 1 then 1.0 else performance_uncapped end as performance
    from factors_before_cap
)

select
    oee_factors.factory_id,
    oee_factors.line_id,
    oee_factors.production_day,
    factories.supplier_id,
    oee_factors.shift_minutes,
    oee_factors.planned_stop_minutes,
    oee_factors.planned_minutes,
    oee_factors.running_minutes,
    oee_factors.down_minutes,
    oee_factors.changeover_minutes,
    oee_factors.idle_minutes,
    oee_factors.qty_good,
    oee_factors.qty_scrap,
    oee_factors.ideal_units_per_hour,
    oee_factors.availability,
    oee_factors.performance,
    oee_factors.quality,
    case
        when oee_factors.planned_minutes > 0
            then oee_factors.availability
                * coalesce(oee_factors.performance, 0)
                * coalesce(oee_factors.quality, 0)
    end as oee
from oee_factors
left join factories
    on factories.factory_id = oee_factors.factory_id
