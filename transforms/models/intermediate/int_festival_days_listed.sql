-- One row per calendar day that belongs to a shopping festival or the Spring Festival, for
-- every year of history plus the year before and after (so the forecast horizon is covered).
-- Each festival is split into phases; phases share names across the shopping festivals
-- (warm_up, presale_open, run_up, final_sprint, peak, after) so a festival not yet seen in the
-- history can borrow the uplift measured on another one (see int_demand_festival_uplifts_estimated).
--
-- festival_size: the festival's extra demand relative to 6.18 (= 1.0). 11.11 is about 1.4x
--   (Syntun's 2023 e-commerce GMV: 11.11 CNY 1.14 trn vs 6.18 CNY 0.80 trn), 12.12 far smaller.
-- prior_uplift: demand multiplier assumed when no festival with that phase is in the history:
--   1 + (phase prior for a festival of size 1 - 1) x festival_size. A planning assumption only;
--   measured uplifts replace it as soon as one festival has been observed.
-- The platform's own festivals (SUPPLYLOOP_FESTIVALS, macros/platform_festivals.sql: a brand
-- day, a festival that moves every year) join the calendar on the dates it gives, as shopping
-- festivals with the phases final_sprint, peak and after; where one overlaps a fixed festival,
-- the platform's dates win the day (a day belongs to one festival).
{%- set platform = platform_festivals() %}
with

shopping_festival_phases as (
    -- festival, size, peak month, peak day of month, phase, first and last day relative to the peak, prior at size 1
    select * from (values
        ('6.18',  1.0, 6, 18, 'warm_up',      -21, -18, 1.15),
        ('6.18',  1.0, 6, 18, 'presale_open', -17, -17, 2.00),
        ('6.18',  1.0, 6, 18, 'run_up',       -16,  -3, 1.25),
        ('6.18',  1.0, 6, 18, 'final_sprint',  -2,  -1, 1.80),
        ('6.18',  1.0, 6, 18, 'peak',           0,   0, 4.00),
        ('6.18',  1.0, 6, 18, 'after',          1,   2, 1.30),
        ('11.11', 1.4, 11, 11, 'warm_up',      -22, -12, 1.15),
        ('11.11', 1.4, 11, 11, 'presale_open', -11, -11, 2.00),
        ('11.11', 1.4, 11, 11, 'run_up',       -10,  -2, 1.25),
        ('11.11', 1.4, 11, 11, 'final_sprint',  -1,  -1, 1.80),
        ('11.11', 1.4, 11, 11, 'peak',           0,   0, 4.00),
        ('11.11', 1.4, 11, 11, 'after',          1,   3, 1.30),
        ('12.12', 0.4, 12, 12, 'final_sprint',  -2,  -1, 1.80),
        ('12.12', 0.4, 12, 12, 'peak',           0,   0, 4.00),
        ('12.12', 0.4, 12, 12, 'after',          1,   1, 1.30)
    ) as phases (festival, festival_size, peak_month, peak_day_of_month, festival_phase, first_offset, last_offset, prior_at_size_one)
),

spring_festival_phases as (
    -- shops and couriers close around the lunar new year; shopping before it
    select * from (values
        ('new_year_shopping', -10, -4, 1.15),
        ('holiday_closure',    -3,  6, 0.50),
        ('reopening',           7, 10, 0.85)
    ) as phases (festival_phase, first_offset, last_offset, prior_at_size_one)
),

lunar_new_years as (
    -- 春节 (first day of the lunar year); extend this list before 2036
    select festival_year, cast(new_year_day as date) as peak_day
    from (values
        (2020, '2020-01-25'), (2021, '2021-02-12'), (2022, '2022-02-01'), (2023, '2023-01-22'),
        (2024, '2024-02-10'), (2025, '2025-01-29'), (2026, '2026-02-17'), (2027, '2027-02-06'),
        (2028, '2028-01-26'), (2029, '2029-02-13'), (2030, '2030-02-03'), (2031, '2031-01-23'),
        (2032, '2032-02-11'), (2033, '2033-01-31'), (2034, '2034-02-19'), (2035, '2035-02-08')
    ) as new_years (festival_year, new_year_day)
),

history_years as (
    select distinct cast(extract(year from demand_day) as integer) as history_year
    from {{ ref('int_demand_days_filled') }}
),

calendar_years as (
    select distinct history_year + year_shift as festival_year
    from history_years
    cross join (select -1 as year_shift union all select 0 union all select 1) as shifts
),

festival_phase_spans as (
    select
        shopping_festival_phases.festival,
        'shopping' as festival_family,
        calendar_years.festival_year,
        cast(
            cast(calendar_years.festival_year as {{ dbt.type_string() }}) || '-'
            || lpad(cast(shopping_festival_phases.peak_month as {{ dbt.type_string() }}), 2, '0') || '-'
            || lpad(cast(shopping_festival_phases.peak_day_of_month as {{ dbt.type_string() }}), 2, '0')
            as date
        ) as peak_day,
        shopping_festival_phases.festival_phase,
        shopping_festival_phases.first_offset,
        shopping_festival_phases.last_offset,
        shopping_festival_phases.festival_size,
        1 + (shopping_festival_phases.prior_at_size_one - 1) * shopping_festival_phases.festival_size as prior_uplift
    from shopping_festival_phases
    cross join calendar_years

    union all

    select
        'spring_festival' as festival,
        'spring_festival' as festival_family,
        lunar_new_years.festival_year,
        lunar_new_years.peak_day,
        spring_festival_phases.festival_phase,
        spring_festival_phases.first_offset,
        spring_festival_phases.last_offset,
        1.0 as festival_size,
        spring_festival_phases.prior_at_size_one as prior_uplift
    from spring_festival_phases
    cross join lunar_new_years
    inner join calendar_years on lunar_new_years.festival_year = calendar_years.festival_year
),

{% if platform %}
platform_festival_peaks as (
    select festival, cast(peak_day as date) as peak_day, cast(festival_size as double) as festival_size
    from (values
        {%- for f in platform %}
        ('{{ f.festival }}', '{{ f.peak_day }}', {{ f.size }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as peaks (festival, peak_day, festival_size)
),

platform_festival_spans as (
    select
        platform_festival_peaks.festival,
        'shopping' as festival_family,
        cast(extract(year from platform_festival_peaks.peak_day) as integer) as festival_year,
        platform_festival_peaks.peak_day,
        phases.festival_phase,
        phases.first_offset,
        phases.last_offset,
        platform_festival_peaks.festival_size,
        1 + (phases.prior_at_size_one - 1) * platform_festival_peaks.festival_size as prior_uplift
    from platform_festival_peaks
    cross join (values
        ('final_sprint', -2, -1, 1.80),
        ('peak',          0,  0, 4.00),
        ('after',         1,  1, 1.30)
    ) as phases (festival_phase, first_offset, last_offset, prior_at_size_one)
),
{% endif %}

offsets as (
    {{ dbt.generate_series(40) }}
),

listed as (
    select
        {{ demand_add_days('spans.first_offset + offsets.generated_number - 1', 'spans.peak_day') }} as calendar_day,
        spans.festival,
        spans.festival_family,
        spans.festival_year,
        spans.festival_phase,
        spans.first_offset + offsets.generated_number - 1 as days_from_peak,
        cast(spans.festival_size as double) as festival_size,
        cast(spans.prior_uplift as double) as prior_uplift,
        spans.is_platform_festival
    from (
        select festival_phase_spans.*, false as is_platform_festival from festival_phase_spans
        {%- if platform %}
        union all
        select platform_festival_spans.*, true as is_platform_festival from platform_festival_spans
        {%- endif %}
    ) as spans
    inner join offsets
        on offsets.generated_number <= spans.last_offset - spans.first_offset + 1
),

ranked as (
    select
        listed.*,
        row_number() over (partition by calendar_day order by is_platform_festival desc, festival) as day_choice
    from listed
)

select
    calendar_day,
    festival,
    festival_family,
    festival_year,
    festival_phase,
    days_from_peak,
    festival_size,
    prior_uplift
from ranked
where day_choice = 1
