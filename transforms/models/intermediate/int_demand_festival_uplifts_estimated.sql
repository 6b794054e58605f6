-- One row per forecast origin and festival phase occurrence (festival x year x phase): the
-- demand multiplier the forecast applies on those days, and where it comes from.
--
-- Measuring an uplift (platform-wide demand, history up to the origin's cut-off only):
--   baseline level  mean weekday-adjusted daily demand on the ordinary (non-festival) days
--                   within baseline_window_days before and after the festival occurrence
--                   (needs at least 7 such days, or the occurrence is not measured)
--   observed_uplift actual demand on the phase's days / (baseline level x their weekday indices)
-- Choosing the applied uplift, first match wins (uplift_source):
--   same_occurrence      this very festival's phase already seen (e.g. 11.11's warm-up days
--                        before the cut-off)
--   previous_occurrence  the same festival's phase in an earlier year, the latest one
--   analog_festival      the same phase of the latest other festival of the family seen,
--                        rescaled by size: 1 + (observed - 1) x festival_size / analog's size
--                        (e.g. 11.11's peak from 6.18's peak x 1.4)
--   prior                the calendar's prior_uplift
-- Applied uplifts are kept within [0.2, 20] so one odd day cannot blow a forecast up.
{%- set baseline_window_days = var('forecast_festival_baseline_days', 28) %}
with

origins as (
    select forecast_origin, cutoff_day from {{ ref('int_demand_forecast_origins_listed') }}
),

festival_days as (
    select * from {{ ref('int_festival_days_listed') }}
),

weekday_indices as (
    select forecast_origin, day_of_week, weekday_index from {{ ref('int_demand_weekday_indices_estimated') }}
),

platform_days as (
    select demand_day, {{ demand_day_of_week('demand_day') }} as day_of_week, sum(demand_units) as demand_units
    from {{ ref('int_demand_days_filled') }}
    group by demand_day
),

occurrences as (
    select
        festival,
        festival_family,
        festival_year,
        max(festival_size) as festival_size,
        min(calendar_day) as first_day,
        max(calendar_day) as last_day
    from festival_days
    group by festival, festival_family, festival_year
),

phase_occurrences as (
    select festival, festival_year, festival_phase, max(prior_uplift) as prior_uplift
    from festival_days
    group by festival, festival_year, festival_phase
),

-- ordinary trading days around each occurrence, seen from each origin
baseline_days as (
    select
        origins.forecast_origin,
        occurrences.festival,
        occurrences.festival_year,
        platform_days.demand_units / weekday_indices.weekday_index as weekday_adjusted_units
    from origins
    cross join occurrences
    inner join platform_days
        on platform_days.demand_day <= origins.cutoff_day
        and platform_days.demand_day >= {{ demand_add_days(-baseline_window_days, 'occurrences.first_day') }}
        and platform_days.demand_day <= {{ demand_add_days(baseline_window_days, 'occurrences.last_day') }}
    inner join weekday_indices
        on weekday_indices.forecast_origin = origins.forecast_origin
        and weekday_indices.day_of_week = platform_days.day_of_week
    left join festival_days on festival_days.calendar_day = platform_days.demand_day
    where festival_days.calendar_day is null
),

baselines as (
    select forecast_origin, festival, festival_year, {{ exact_avg('weekday_adjusted_units') }} as baseline_units
    from baseline_days
    group by forecast_origin, festival, festival_year
    having count(*) >= 7
),

observed_phases as (
    select
        origins.forecast_origin,
        festival_days.festival,
        festival_days.festival_family,
        festival_days.festival_year,
        festival_days.festival_phase,
        max(festival_days.festival_size) as festival_size,
        max(festival_days.calendar_day) as last_observed_day,
        count(*) as observed_days,
        sum(platform_days.demand_units)
            / cast({{ exact_sum('baselines.baseline_units * weekday_indices.weekday_index') }} as double) as observed_uplift
    from origins
    inner join festival_days on festival_days.calendar_day <= origins.cutoff_day
    inner join platform_days on platform_days.demand_day = festival_days.calendar_day
    inner join weekday_indices
        on weekday_indices.forecast_origin = origins.forecast_origin
        and weekday_indices.day_of_week = platform_days.day_of_week
    inner join baselines
        on baselines.forecast_origin = origins.forecast_origin
        and baselines.festival = festival_days.festival
        and baselines.festival_year = festival_days.festival_year
    group by
        origins.forecast_origin,
        festival_days.festival,
        festival_days.festival_family,
        festival_days.festival_year,
        festival_days.festival_phase
    having {{ exact_sum('baselines.baseline_units * weekday_indices.weekday_index') }} > 0
),

phases_to_price as (
    select
        origins.forecast_origin,
        phase_occurrences.festival,
        occurrences.festival_family,
        phase_occurrences.festival_year,
        phase_occurrences.festival_phase,
        occurrences.festival_size,
        phase_occurrences.prior_uplift
    from origins
    cross join phase_occurrences
    inner join occurrences
        on occurrences.festival = phase_occurrences.festival
        and occurrences.festival_year = phase_occurrences.festival_year
),

candidates as (
    select
        phases_to_price.*,
        1 as preference,
        observed.last_observed_day as evidence_day,
        'same_occurrence' as uplift_source,
        observed.festival || ' ' || cast(observed.festival_year as {{ dbt.type_string() }}) as evidence,
        observed.observed_uplift as candidate_uplift
    from phases_to_price
    inner join observed_phases as observed
        on observed.forecast_origin = phases_to_price.forecast_origin
        and observed.festival = phases_to_price.festival
        and observed.festival_year = phases_to_price.festival_year
        and observed.festival_phase = phases_to_price.festival_phase

    union all

    select
        phases_to_price.*,
        2 as preference,
        observed.last_observed_day as evidence_day,
        'previous_occurrence' as uplift_source,
        observed.festival || ' ' || cast(observed.festival_year as {{ dbt.type_string() }}) as evidence,
        observed.observed_uplift as candidate_uplift
    from phases_to_price
    inner join observed_phases as observed
        on observed.forecast_origin = phases_to_price.forecast_origin
        and observed.festival = phases_to_price.festival
        and observed.festival_year < phases_to_price.festival_year
        and observed.festival_phase = phases_to_price.festival_phase

    union all

    select
        phases_to_price.*,
        3 as preference,
        observed.last_observed_day as evidence_day,
        'analog_festival' as uplift_source,
        observed.festival || ' ' || cast(observed.festival_year as {{ dbt.type_string() }}) as evidence,
        1 + (observed.observed_uplift - 1) * phases_to_price.festival_size / observed.festival_size as candidate_uplift
    from phases_to_price
    inner join observed_phases as observed
        on observed.forecast_origin = phases_to_price.forecast_origin
        and observed.festival_family = phases_to_price.festival_family
        and observed.festival <> phases_to_price.festival
        and observed.festival_phase = phases_to_price.festival_phase

    union all

    select
        phases_to_price.*,
        4 as preference,
        cast(null as date) as evidence_day,
        'prior' as uplift_source,
        cast(null as {{ dbt.type_string() }}) as evidence,
        phases_to_price.prior_uplift as candidate_uplift
    from phases_to_price
),

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by forecast_origin, festival, festival_year, festival_phase
            order by preference, evidence_day desc, evidence
        ) as choice
    from candidates
)

select
    ranked.forecast_origin,
    ranked.festival,
    ranked.festival_family,
    cast(ranked.festival_year as integer) as festival_year,
    ranked.festival_phase,
    cast(observed.observed_days as integer) as observed_days,
    cast(round(observed.observed_uplift, 4) as double) as observed_uplift,
    cast(round(least(greatest(ranked.candidate_uplift, 0.2), 20.0), 4) as double) as applied_uplift,
    ranked.uplift_source,
    ranked.evidence
from ranked
left join observed_phases as observed
    on observed.forecast_origin = ranked.forecast_origin
    and observed.festival = ranked.festival
    and observed.festival_year = ranked.festival_year
    and observed.festival_phase = ranked.festival_phase
where ranked.choice = 1
