{{ config(materialized="table") }}

-- One row per forecast origin, SKU, region and forecast day: the demand forecast (units, paid +
-- refunded) and its rough 80% band. The method, fitted on history up to the origin's cut-off:
--
--   forecast = level(SKU) x region_share(SKU, region) x weekday_index(day) x festival_uplift(day)
--
--   level          the SKU's de-seasonalised daily demand, all regions together: an
--                  exponentially weighted mean (half-life level_half_life_days) of
--                  demand / (weekday_index x festival_uplift) over the fit days of the last
--                  level_window_days, counted from the SKU's first sale (a new SKU is not dragged
--                  down by the days before it existed). Fit days are the ordinary days on which
--                  the SKU was in stock and not on a price cut: a festival spike or a promotion
--                  does not lift the level, and a stockout does not drag it down (its sales
--                  understate demand; int_demand_stockout_days_flagged). A price-cut day is a
--                  day the SKU's average paid price fell below price_cut_ratio x its mean over the
--                  price_reference_days trading days before, with at least 5 orders (fewer say
--                  nothing about the price). When the SKU sold on festival days only so far, they
--                  count, divided by their uplift.
--                  Level shifts: the same mean with half-life fast_half_life_days is taken beside
--                  it; when the two differ by more than level_shift_z standard errors of the fast
--                  one (the SKU's demand stepped up or down: a trend break, a new price, a launch
--                  ramping up), the fast one is the level (method ..._level_shift).
--   region_share   the region's share of the SKU's demand over the last share_window_days,
--                  shrunk towards the platform's regional mix by region_share_prior_units
--                  (sparse SKU x region series borrow the SKU's level instead of their own noise)
--   weekday_index  int_demand_weekday_indices_estimated (platform weekly rhythm)
--   festival_uplift int_demand_festival_uplifts_estimated (measured, borrowed or prior)
--
-- method: seasonal_ewma_festival normally; seasonal_ewma_festival_level_shift when the level
-- shifted (above); seasonal_ewma_festival_new_sku when the SKU first sold fewer than 14 days
-- before the cut-off (little evidence); zero_no_recent_demand (forecast 0) when the SKU had no
-- demand in the last share_window_days (or never sold).
-- Spread: demand is counted in units drawn in orders, so its noise grows with the forecast;
-- forecast_spread = sqrt(dispersion x forecast + (relative_error x forecast)^2) with dispersion
-- the SKU's in-sample variance-to-mean ratio (at least 1) and relative_error 0.1 on ordinary
-- days, 0.3 on festival days (the uplift itself is uncertain). The 80% band is
-- forecast -/+ a multiple of the spread calibrated on the errors of the origin before
-- (int_demand_forecasts_banded).
{%- set level_half_life_days = var('forecast_level_half_life_days', 14) %}
{%- set level_window_days = var('forecast_level_window_days', 112) %}
{%- set share_window_days = var('forecast_region_share_window_days', 56) %}
{%- set region_share_prior_units = var('forecast_region_share_prior_units', 28) %}
{%- set fast_half_life_days = var('forecast_fast_half_life_days', 3) %}
{%- set level_shift_z = var('forecast_level_shift_z', 3.0) %}
{%- set price_cut_ratio = var('forecast_price_cut_ratio', 0.88) %}
{%- set price_reference_days = var('forecast_price_reference_days', 14) %}
{%- set trend_window_days = var('forecast_trend_window_days', 56) %}
{%- set new_sku_days = var('forecast_new_sku_days', 28) %}
{%- set longest_horizon = [var('forecast_horizon_days'), var('backtest_days')] | max %}
with

origins as (
    select forecast_origin, cutoff_day, horizon_days from {{ ref('int_demand_forecast_origins_listed') }}
),

festival_days as (
    select calendar_day, festival, festival_year, festival_phase from {{ ref('int_festival_days_listed') }}
),

weekday_indices as (
    select forecast_origin, day_of_week, weekday_index from {{ ref('int_demand_weekday_indices_estimated') }}
),

festival_uplifts as (
    select forecast_origin, festival, festival_year, festival_phase, applied_uplift
    from {{ ref('int_demand_festival_uplifts_estimated') }}
),

-- the daily series are read where each step needs them, not as one shared step: each read
-- then takes only its days from the table, where a shared one would hold every day of history
catalogue_skus as (
    select sku from {{ ref('stg_master__products') }} where sku is not null
    union
    select sku from {{ ref('int_demand_days_filled') }}
),

selling_regions as (
    select distinct region from {{ ref('int_demand_days_filled') }}
),

-- the SKU's demand per day over the level window of every origin (not the whole history)
sku_days as (
    select sku, demand_day, sum(demand_units) as demand_units
    from {{ ref('int_demand_days_filled') }}
    where demand_day > (select {{ demand_add_days(-level_window_days, 'min(cutoff_day)') }} from origins)
    group by sku, demand_day
),

-- the series' days of every origin's share window, which the region shares and the in-sample
-- fit read
recent_days as (
    select sku, region, demand_day, demand_units
    from {{ ref('int_demand_days_filled') }}
    where demand_day > (select {{ demand_add_days(-share_window_days, 'min(cutoff_day)') }} from origins)
),

-- days the SKU was out of stock everywhere: its sales understate its demand
stockout_days as (
    select sku, stock_day
    from {{ ref('int_demand_stockout_days_flagged') }}
    where is_stockout
        and stock_day > (select {{ demand_add_days(-level_window_days, 'min(cutoff_day)') }} from origins)
),

-- the SKU's average paid price per trading day, and its mean over the days before (only days
-- before: a day's flag never reads a later day, so no origin sees past its cut-off)
sku_day_prices as (
    select
        sku,
        order_day,
        sum(orders) as orders,
        cast(sum(revenue) as double) / nullif(sum(units_sold), 0) as unit_price
    from {{ ref('daily_demand') }}
    where order_day > (
        select {{ demand_add_days(-(level_window_days + 2 * price_reference_days), 'min(cutoff_day)') }} from origins
    )
    group by sku, order_day
    having sum(units_sold) > 0
),

price_references as (
    select
        sku,
        order_day,
        orders,
        unit_price,
        cast(avg(cast(unit_price as decimal(38, 6))) over (
            partition by sku order by order_day rows between {{ price_reference_days }} preceding and 1 preceding
        ) as double) as reference_price,
        count(*) over (
            partition by sku order by order_day rows between {{ price_reference_days }} preceding and 1 preceding
        ) as reference_days
    from sku_day_prices
),

price_cut_days as (
    select sku, order_day
    from price_references
    where reference_days >= 5 and orders >= 5 and unit_price < {{ price_cut_ratio }} * reference_price
),

-- the first sale before an origin's cut-off is the SKU's first sale ever, if it came by then
first_sales as (
    select origins.forecast_origin, first_sale.sku, first_sale.first_sale_day
    from (
        select sku, min(demand_day) as first_sale_day
        from {{ ref('int_demand_days_filled') }}
        where demand_units > 0
        group by sku
    ) as first_sale
    inner join origins on first_sale.first_sale_day <= origins.cutoff_day
),

-- each SKU's recent history since its first sale, weekday rhythm (and festival uplift) taken out
weighted_days as (
    select
        origins.forecast_origin,
        sku_days.sku,
        sku_days.demand_day,
        festival_days.calendar_day is null
            and stockout_days.sku is null
            and price_cut_days.sku is null as is_fit_day,
        stockout_days.sku is not null as is_stockout_day,
        festival_days.calendar_day is not null as is_festival_day,
        {{ demand_days_between('sku_days.demand_day', 'origins.cutoff_day') }} as age_days,
        stockout_days.sku is null as is_in_stock_day,
        sku_days.demand_units
            / (weekday_indices.weekday_index * coalesce(festival_uplifts.applied_uplift, 1.0)) as adjusted_units,
        power(
            0.5,
            {{ demand_days_between('sku_days.demand_day', 'origins.cutoff_day') }} / cast({{ level_half_life_days }} as double)
        ) as weight,
        power(
            0.5,
            {{ demand_days_between('sku_days.demand_day', 'origins.cutoff_day') }} / cast({{ fast_half_life_days }} as double)
        ) as fast_weight
    from origins
    inner join sku_days
        on sku_days.demand_day <= origins.cutoff_day
        and sku_days.demand_day > {{ demand_add_days(-level_window_days, 'origins.cutoff_day') }}
    inner join first_sales
        on first_sales.forecast_origin = origins.forecast_origin
        and first_sales.sku = sku_days.sku
        and sku_days.demand_day >= first_sales.first_sale_day
    inner join weekday_indices
        on weekday_indices.forecast_origin = origins.forecast_origin
        and weekday_indices.day_of_week = {{ demand_day_of_week('sku_days.demand_day') }}
    left join festival_days on festival_days.calendar_day = sku_days.demand_day
    left join festival_uplifts
        on festival_uplifts.forecast_origin = origins.forecast_origin
        and festival_uplifts.festival = festival_days.festival
        and festival_uplifts.festival_year = festival_days.festival_year
        and festival_uplifts.festival_phase = festival_days.festival_phase
    left join stockout_days
        on stockout_days.sku = sku_days.sku
        and stockout_days.stock_day = sku_days.demand_day
    left join price_cut_days
        on price_cut_days.sku = sku_days.sku
        and price_cut_days.order_day = sku_days.demand_day
),

-- fit days only, so a spike does not lift the level; a SKU that has sold only on festival (or
-- price-cut) days so far falls back to its days in stock, divided by their uplift (and to all
-- its days when it was never in stock)
-- each fit day's adjusted demand beside the previous fit day's
sequenced_days as (
    select
        weighted_days.*,
        case when is_fit_day then lag(adjusted_units) over (
            partition by forecast_origin, sku, is_fit_day order by demand_day
        ) end as previous_units
    from weighted_days
),

sku_level_sums as (
    select
        forecast_origin,
        sku,
        coalesce(
            cast({{ exact_sum('case when is_fit_day then weight * adjusted_units end') }} as double)
                / nullif(cast({{ exact_sum('case when is_fit_day then weight end') }} as double), 0),
            cast({{ exact_sum('case when is_in_stock_day then weight * adjusted_units end') }} as double)
                / nullif(cast({{ exact_sum('case when is_in_stock_day then weight end') }} as double), 0),
            cast({{ exact_sum('weight * adjusted_units') }} as double) / nullif(cast({{ exact_sum('weight') }} as double), 0)
        ) as slow_level_units,
        -- the day-to-day noise: half the mean squared change between successive fit days, which a
        -- step in the level barely moves (a variance around the mean would count the step)
        cast({{ exact_sum('case when is_fit_day then (adjusted_units - previous_units) * (adjusted_units - previous_units) end') }} as double)
            / nullif(2 * count(case when is_fit_day then previous_units end), 0) as noise_variance,
        coalesce(
            cast({{ exact_sum('case when is_fit_day then fast_weight * adjusted_units end') }} as double)
                / nullif(cast({{ exact_sum('case when is_fit_day then fast_weight end') }} as double), 0),
            cast({{ exact_sum('case when is_in_stock_day then fast_weight * adjusted_units end') }} as double)
                / nullif(cast({{ exact_sum('case when is_in_stock_day then fast_weight end') }} as double), 0),
            cast({{ exact_sum('fast_weight * adjusted_units') }} as double) / nullif(cast({{ exact_sum('fast_weight') }} as double), 0)
        ) as fast_level_units,
        -- the fast mean's effective number of days: (sum of weights)^2 / sum of squared weights
        power(cast({{ exact_sum('case when is_fit_day then fast_weight end') }} as double), 2)
            / nullif(cast({{ exact_sum('case when is_fit_day then fast_weight * fast_weight end') }} as double), 0)
            as fast_days,
        count(case when is_stockout_day then 1 end) as stockout_days,
        -- how many days ago the levels' days lie on average: what a trend has moved since
        cast({{ exact_sum('case when is_fit_day then weight * age_days end') }} as double)
            / nullif(cast({{ exact_sum('case when is_fit_day then weight end') }} as double), 0) as slow_age_days,
        cast({{ exact_sum('case when is_fit_day then fast_weight * age_days end') }} as double)
            / nullif(cast({{ exact_sum('case when is_fit_day then fast_weight end') }} as double), 0) as fast_age_days
    from sequenced_days
    group by forecast_origin, sku
),

sku_levels as (
    select
        forecast_origin,
        sku,
        case when is_level_shift or is_new_sku then coalesce(fast_level_units, slow_level_units) else slow_level_units end as level_units,
        coalesce(case when is_level_shift or is_new_sku then fast_age_days else slow_age_days end, 0) as level_age_days,
        is_level_shift,
        stockout_days
    from (
        select
            *,
            coalesce(
                abs(fast_level_units - slow_level_units)
                    > {{ level_shift_z }} * sqrt(
                        -- the noise, at least Poisson's (variance = the level)
                        greatest(coalesce(noise_variance, 0), slow_level_units, 0.25) / fast_days
                    ),
                false
            ) as is_level_shift,
            -- a SKU launched lately is still ramping up: its recent days say more than its first
            -- (origins joined inside, not a subquery of its own: Spark resolves a correlated
            -- column one level down only)
            exists (
                select 1
                from first_sales
                inner join origins on origins.forecast_origin = first_sales.forecast_origin
                where first_sales.forecast_origin = sku_level_sums.forecast_origin
                    and first_sales.sku = sku_level_sums.sku
                    and first_sales.first_sale_day > {{ demand_add_days(-new_sku_days, 'origins.cutoff_day') }}
            ) as is_new_sku
        from sku_level_sums
    ) as tested
),

-- like-for-like growth of each category: its SKUs on sale through the whole trend window, on
-- the window's festival-free days, recent half against earlier half (weekday and uplift taken
-- out): ln(recent mean / earlier mean) / the days between the halves' middles. The slow level
-- lags such a trend by its mean age, and the forecast reaches horizon_day days further.
sku_categories as (
    select sku, max(category) as category
    from {{ ref('stg_master__products') }}
    where sku is not null and category is not null
    group by sku
),

category_days as (
    select
        weighted_days.forecast_origin,
        sku_categories.category,
        weighted_days.age_days,
        sum(weighted_days.adjusted_units) as adjusted_units
    from weighted_days
    inner join sku_categories on sku_categories.sku = weighted_days.sku
    inner join first_sales
        on first_sales.forecast_origin = weighted_days.forecast_origin
        and first_sales.sku = weighted_days.sku
    inner join origins on origins.forecast_origin = weighted_days.forecast_origin
    where not weighted_days.is_festival_day
        and weighted_days.age_days < {{ trend_window_days }}
        and first_sales.first_sale_day <= {{ demand_add_days(-trend_window_days, 'origins.cutoff_day') }}
    group by weighted_days.forecast_origin, sku_categories.category, weighted_days.age_days
),

category_trends as (
    select
        forecast_origin,
        category,
        ln(
            avg(case when age_days < {{ trend_window_days // 2 }} then adjusted_units end)
                / avg(case when age_days >= {{ trend_window_days // 2 }} then adjusted_units end)
        ) / (
            avg(case when age_days >= {{ trend_window_days // 2 }} then age_days end)
                - avg(case when age_days < {{ trend_window_days // 2 }} then age_days end)
        ) as daily_growth
    from category_days
    group by forecast_origin, category
    having count(case when age_days < {{ trend_window_days // 2 }} then 1 end) >= 7
        and count(case when age_days >= {{ trend_window_days // 2 }} then 1 end) >= 7
        and min(adjusted_units) > 0
),

recent_series_demand as (
    select origins.forecast_origin, recent_days.sku, recent_days.region, sum(recent_days.demand_units) as demand_units
    from origins
    inner join recent_days
        on recent_days.demand_day <= origins.cutoff_day
        and recent_days.demand_day > {{ demand_add_days(-share_window_days, 'origins.cutoff_day') }}
    left join stockout_days
        on stockout_days.sku = recent_days.sku
        and stockout_days.stock_day = recent_days.demand_day
    where stockout_days.sku is null
    group by origins.forecast_origin, recent_days.sku, recent_days.region
),

recent_sku_demand as (
    select forecast_origin, sku, sum(demand_units) as demand_units
    from recent_series_demand
    group by forecast_origin, sku
),

recent_region_mix as (
    select
        forecast_origin,
        region,
        cast(sum(demand_units) as double) / nullif(sum(sum(demand_units)) over (partition by forecast_origin), 0) as region_mix
    from recent_series_demand
    group by forecast_origin, region
),

series as (
    select
        origins.forecast_origin,
        catalogue_skus.sku,
        selling_regions.region,
        coalesce(sku_levels.level_units, 0) as sku_level_units,
        coalesce(sku_levels.stockout_days, 0) as stockout_days,
        coalesce(sku_levels.level_age_days, 0) as level_age_days,
        coalesce(category_trends.daily_growth, 0) as daily_growth,
        (coalesce(recent_series_demand.demand_units, 0) + {{ region_share_prior_units }} * coalesce(recent_region_mix.region_mix, 0))
            / (coalesce(recent_sku_demand.demand_units, 0) + {{ region_share_prior_units }}) as region_share,
        case
            when coalesce(recent_sku_demand.demand_units, 0) = 0 then 'zero_no_recent_demand'
            when {{ demand_days_between('first_sales.first_sale_day', 'origins.cutoff_day') }} < 13 then 'seasonal_ewma_festival_new_sku'
            when sku_levels.is_level_shift then 'seasonal_ewma_festival_level_shift'
            else 'seasonal_ewma_festival'
        end as method
    from origins
    cross join catalogue_skus
    cross join selling_regions
    left join sku_levels
        on sku_levels.forecast_origin = origins.forecast_origin
        and sku_levels.sku = catalogue_skus.sku
    left join first_sales
        on first_sales.forecast_origin = origins.forecast_origin
        and first_sales.sku = catalogue_skus.sku
    left join recent_series_demand
        on recent_series_demand.forecast_origin = origins.forecast_origin
        and recent_series_demand.sku = catalogue_skus.sku
        and recent_series_demand.region = selling_regions.region
    left join recent_sku_demand
        on recent_sku_demand.forecast_origin = origins.forecast_origin
        and recent_sku_demand.sku = catalogue_skus.sku
    left join recent_region_mix
        on recent_region_mix.forecast_origin = origins.forecast_origin
        and recent_region_mix.region = selling_regions.region
    left join sku_categories on sku_categories.sku = catalogue_skus.sku
    left join category_trends
        on category_trends.forecast_origin = origins.forecast_origin
        and category_trends.category = sku_categories.category
),

series_levels as (
    select
        forecast_origin,
        sku,
        region,
        method,
        stockout_days,
        level_age_days,
        daily_growth,
        case when method = 'zero_no_recent_demand' then 0.0 else sku_level_units * region_share end as level_units
    from series
),

-- how noisy each SKU's series are around the fitted level on recent ordinary days
in_sample_fit as (
    select
        series_levels.forecast_origin,
        series_levels.sku,
        recent_days.demand_units as actual_units,
        series_levels.level_units * weekday_indices.weekday_index as fitted_units
    from series_levels
    inner join origins on origins.forecast_origin = series_levels.forecast_origin
    inner join recent_days
        on recent_days.sku = series_levels.sku
        and recent_days.region = series_levels.region
        and recent_days.demand_day <= origins.cutoff_day
        and recent_days.demand_day > {{ demand_add_days(-share_window_days, 'origins.cutoff_day') }}
    inner join weekday_indices
        on weekday_indices.forecast_origin = series_levels.forecast_origin
        and weekday_indices.day_of_week = {{ demand_day_of_week('recent_days.demand_day') }}
    left join festival_days on festival_days.calendar_day = recent_days.demand_day
    left join stockout_days
        on stockout_days.sku = recent_days.sku
        and stockout_days.stock_day = recent_days.demand_day
    where festival_days.calendar_day is null and stockout_days.sku is null
),

sku_dispersion as (
    select
        forecast_origin,
        sku,
        least(
            greatest(
                coalesce(
                    cast({{ exact_sum('(actual_units - fitted_units) * (actual_units - fitted_units)') }} as double)
                        / nullif(cast({{ exact_sum('fitted_units') }} as double), 0),
                    1.0
                ),
                1.0
            ),
            50.0
        ) as dispersion
    from in_sample_fit
    group by forecast_origin, sku
),

horizon_steps as (
    {{ dbt.generate_series(longest_horizon) }}
),

forecast_days as (
    select
        origins.forecast_origin,
        origins.cutoff_day,
        cast(horizon_steps.generated_number as integer) as horizon_day,
        {{ demand_add_days('horizon_steps.generated_number', 'origins.cutoff_day') }} as forecast_day
    from origins
    inner join horizon_steps on horizon_steps.generated_number <= origins.horizon_days
),

forecast_day_factors as (
    select
        forecast_days.*,
        {{ demand_day_of_week('forecast_days.forecast_day') }} as day_of_week,
        weekday_indices.weekday_index,
        festival_days.festival,
        festival_days.festival_phase,
        coalesce(festival_uplifts.applied_uplift, 1.0) as festival_uplift
    from forecast_days
    inner join weekday_indices
        on weekday_indices.forecast_origin = forecast_days.forecast_origin
        and weekday_indices.day_of_week = {{ demand_day_of_week('forecast_days.forecast_day') }}
    left join festival_days on festival_days.calendar_day = forecast_days.forecast_day
    left join festival_uplifts
        on festival_uplifts.forecast_origin = forecast_days.forecast_origin
        and festival_uplifts.festival = festival_days.festival
        and festival_uplifts.festival_year = festival_days.festival_year
        and festival_uplifts.festival_phase = festival_days.festival_phase
),

forecasts as (
    select
        forecast_day_factors.forecast_origin,
        forecast_day_factors.cutoff_day,
        series_levels.sku,
        series_levels.region,
        forecast_day_factors.forecast_day,
        forecast_day_factors.horizon_day,
        forecast_day_factors.day_of_week,
        forecast_day_factors.weekday_index,
        forecast_day_factors.festival,
        forecast_day_factors.festival_phase,
        forecast_day_factors.festival_uplift,
        series_levels.level_units,
        -- the category's growth since the level's days and up to the forecast day, within
        -- [0.8, 1.25] so that a short trend is not carried too far
        least(greatest(
            exp(series_levels.daily_growth * (series_levels.level_age_days + forecast_day_factors.horizon_day)),
            0.8), 1.25) as trend_factor,
        case when forecast_day_factors.festival is null then 0.1 else 0.3 end as relative_error,
        coalesce(sku_dispersion.dispersion, 1.0) as dispersion,
        series_levels.stockout_days,
        series_levels.method
    from series_levels
    inner join forecast_day_factors on forecast_day_factors.forecast_origin = series_levels.forecast_origin
    left join sku_dispersion
        on sku_dispersion.forecast_origin = series_levels.forecast_origin
        and sku_dispersion.sku = series_levels.sku
),

trended_forecasts as (
    select
        forecasts.*,
        level_units * trend_factor * weekday_index * festival_uplift as forecast_units
    from forecasts
)

select
    forecast_origin,
    cutoff_day,
    sku,
    region,
    forecast_day,
    horizon_day,
    cast(day_of_week as integer) as day_of_week,
    weekday_index,
    festival,
    festival_phase,
    festival is not null as is_festival,
    festival_uplift,
    cast(round(level_units, 4) as double) as level_units,
    cast(round(trend_factor, 4) as double) as trend_factor,
    cast(round(forecast_units, 2) as double) as forecast_units,
    cast(round(sqrt(dispersion * forecast_units + power(relative_error * forecast_units, 2)), 4) as double) as forecast_spread,
    cast(stockout_days as integer) as stockout_days,
    method
from trended_forecasts
