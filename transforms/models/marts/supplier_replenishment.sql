-- One row per supplier and SKU: what sold lately, what is forecast, what stock and production
-- are already there, and how much the platform suggests the supplier produce or ship now.
--
-- The need covers the forecast over the protection window (the lead time plus one weekly
-- review period: the days until the next order can land), plus safety stock from the
-- forecast's own uncertainty over that window: 1.65 of its spreads (about 95% service), a
-- day's spread read off demand_forecast's 80% band (upper - forecast = 1.2816 spreads), the
-- days and regions taken as independent. A forecast shorter than the window is stretched to
-- it at its daily mean. What is available, in transit and already in open work orders is
-- netted off, and a positive need is rounded up to whole multiples of the minimum order
-- quantity. This mart is the source of the supplier feeds.
--
-- Festival pre-build: when the forecast weeks ahead ask more of a production line than it
-- can make in them, the excess has to be made earlier. Per line (the one that made most of
-- the SKU in the last 56 days), from the horizon's last week back, what a week cannot make
-- moves to the week before (its capacity: what the line makes in a week of the hours it was
-- not down, at its ideal rate, performance and quality of the last 28 days). What reaches
-- the second week is made now: prebuild_qty shares it out to the line's SKUs by their
-- forecast beyond their protection window, at most that forecast. A platform without MES
-- data (daily_supply and factory_oee skipped) gets no pre-build.
{%- set weeks = var('forecast_horizon_days') // 7 %}
with

last_day as (
    select max(order_day) as as_of_day from {{ ref('daily_demand') }}
),

recent as (
    select demand.sku, sum(demand.units_sold + demand.units_refunded) as recent_demand_28d
    from {{ ref('daily_demand') }} as demand
    cross join last_day
    where demand.order_day > {{ dbt.dateadd("day", -28, "last_day.as_of_day") }}
    group by demand.sku
),

-- per SKU and forecast day: the units of every region, and the variance of that day's demand
forecast_days as (
    select
        forecast.sku,
        forecast.forecast_day,
        {{ dbt.datediff("last_day.as_of_day", "forecast.forecast_day", "day") }} as horizon_day,
        {{ exact_sum('forecast.forecast_units') }} as forecast_units,
        sum(power(coalesce(forecast.forecast_upper - forecast.forecast_units, 0) / cast(1.2816 as double), 2)) as forecast_variance
    from {{ ref('demand_forecast') }} as forecast
    cross join last_day
    group by forecast.sku, forecast.forecast_day, last_day.as_of_day
),

-- the forecast over each SKU's protection window: lead time + a 7-day review period
window_forecast as (
    select
        forecast_days.sku,
        cast(avg(forecast_days.forecast_units) as double) as window_daily_units,
        avg(forecast_days.forecast_variance) as window_daily_variance
    from forecast_days
    inner join {{ ref('stg_master__products') }} as products on products.sku = forecast_days.sku
    where forecast_days.horizon_day between 1 and products.lead_time_days + 7
    group by forecast_days.sku
),

forecast as (
    select sku, {{ exact_sum('forecast_units') }} as forecast_demand, count(distinct forecast_day) as forecast_days
    from {{ ref('demand_forecast') }}
    group by sku
),

stock as (
    select sku, sum(on_hand) as on_hand, sum(available) as available, sum(in_transit) as in_transit
    from {{ ref('int_stock_positions_latest') }}
    group by sku
),

-- the line that made most of each SKU lately
sku_lines as (
    select sku, line_key
    from (
        select
            sku,
            line_key,
            row_number() over (partition by sku order by good_units desc, line_key) as rank
        from (
            select supply.sku, supply.factory_id || '/' || supply.line_id as line_key, sum(supply.qty_good) as good_units
            from {{ ref_unless_skipped('daily_supply') }} as supply
            cross join last_day
            where supply.production_day > {{ dbt.dateadd("day", -56, "last_day.as_of_day") }}
            group by supply.sku, supply.factory_id, supply.line_id
        ) as made
    ) as ranked
    where rank = 1
),

-- good units a line makes in a week of the hours it was not down, as it ran lately
line_capacity as (
    select
        oee.factory_id || '/' || oee.line_id as line_key,
        7 * avg((oee.planned_minutes - oee.down_minutes) / 60 * oee.ideal_units_per_hour)
            * coalesce(avg(case when oee.running_minutes > 0 then oee.performance end), 1)
            * coalesce(avg(case when oee.running_minutes > 0 then oee.quality end), 1) as weekly_capacity
    from {{ ref_unless_skipped('factory_oee') }} as oee
    cross join last_day
    where oee.production_day > {{ dbt.dateadd("day", -28, "last_day.as_of_day") }}
    group by oee.factory_id, oee.line_id
),

-- each line's forecast load per week of the horizon, and the carry from the last week back
line_weeks as (
    select
        sku_lines.line_key,
        {%- for week in range(1, weeks + 1) %}
        sum(case when forecast_days.horizon_day between {{ 7 * week - 6 }} and {{ 7 * week }} then forecast_days.forecast_units else 0 end) as load_{{ week }},
        {%- endfor %}
        max(line_capacity.weekly_capacity) as weekly_capacity
    from forecast_days
    inner join sku_lines on sku_lines.sku = forecast_days.sku
    inner join line_capacity on line_capacity.line_key = sku_lines.line_key
    group by sku_lines.line_key
),

{%- set carry = namespace(expression="0") %}
{%- for week in range(weeks, 1, -1) %}
{%- set carry.expression = "greatest(load_" ~ week ~ " + " ~ carry.expression ~ " - weekly_capacity, 0)" %}
{%- endfor %}
line_prebuild as (
    select line_key, cast({{ carry.expression }} as double) as carried_units
    from line_weeks
    where weekly_capacity > 0
),

beyond_window as (
    select forecast_days.sku, sum(forecast_days.forecast_units) as beyond_units
    from forecast_days
    inner join {{ ref('stg_master__products') }} as products on products.sku = forecast_days.sku
    where forecast_days.horizon_day > products.lead_time_days + 7
    group by forecast_days.sku
),

prebuild as (
    select
        sku_lines.sku,
        least(
            beyond_window.beyond_units,
            line_prebuild.carried_units * beyond_window.beyond_units
                / nullif(sum(beyond_window.beyond_units) over (partition by sku_lines.line_key), 0)
        ) as prebuild_units
    from sku_lines
    inner join line_prebuild on line_prebuild.line_key = sku_lines.line_key
    inner join beyond_window on beyond_window.sku = sku_lines.sku
),

-- units released to production and not made yet, per SKU: the work orders of the last 120
-- days (not cancelled) less the good units made since the first of them. A work-order file
-- carries an order's state on its release day only, so neither its status nor its due date
-- says whether a late order is done; the output does. A platform without production output
-- counts the open orders still due (int_work_orders_opened).
released as (
    select
        work_orders.sku,
        sum(work_orders.qty_planned) as released_units,
        min(work_orders.release_day) as first_release_day
    from {{ ref('stg_factory__work_orders') }} as work_orders
    cross join last_day
    where work_orders.status <> 'cancelled'
      and work_orders.release_day > {{ dbt.dateadd("day", -120, "last_day.as_of_day") }}
      and work_orders.release_day <= last_day.as_of_day
    group by work_orders.sku
),

made_since_release as (
    select released.sku, sum(supply.qty_good) as made_units
    from released
    inner join {{ ref_unless_skipped('daily_supply') }} as supply
        on supply.sku = released.sku
        and supply.production_day >= released.first_release_day
    group by released.sku
),

still_due as (
    select sku, sum(qty_planned) as open_production
    from {{ ref('int_work_orders_opened') }}
    group by sku
),

open_production as (
{%- if 'daily_supply' in skipped_models() %}
    select sku, open_production from still_due
{%- else %}
    select released.sku, greatest(released.released_units - coalesce(made_since_release.made_units, 0), 0) as open_production
    from released
    left join made_since_release on made_since_release.sku = released.sku
{%- endif %}
),

needs as (
    select
        products.supplier_id,
        products.sku,
        products.product_name,
        last_day.as_of_day,
        products.lead_time_days,
        products.min_order_qty,
        coalesce(recent.recent_demand_28d, 0) as recent_demand_28d,
        coalesce(forecast.forecast_demand, 0) as forecast_demand,
        coalesce(forecast.forecast_demand / nullif(forecast.forecast_days, 0), 0) as forecast_daily_units,
        coalesce(window_forecast.window_daily_units, 0) as window_daily_units,
        coalesce(stock.on_hand, 0) as on_hand,
        coalesce(stock.available, 0) as available,
        coalesce(stock.in_transit, 0) as in_transit,
        coalesce(open_production.open_production, 0) as open_production,
        ceil(1.65 * sqrt(coalesce(window_forecast.window_daily_variance, 0) * (products.lead_time_days + 7)))
            as safety_stock,
        ceil(coalesce(prebuild.prebuild_units, 0)) as prebuild_qty
    from {{ ref('stg_master__products') }} as products
    cross join last_day
    left join recent on products.sku = recent.sku
    left join forecast on products.sku = forecast.sku
    left join window_forecast on products.sku = window_forecast.sku
    left join prebuild on products.sku = prebuild.sku
    left join stock on products.sku = stock.sku
    left join open_production on products.sku = open_production.sku
),

suggested as (
    select
        *,
        window_daily_units * (lead_time_days + 7) + safety_stock + prebuild_qty
            - (available + in_transit + open_production) as net_need,
        case when forecast_daily_units > 0
            then (available + in_transit) / forecast_daily_units end as days_of_cover
    from needs
)

select
    supplier_id,
    sku,
    product_name,
    as_of_day,
    cast(recent_demand_28d as bigint) as recent_demand_28d,
    cast(forecast_demand as double) as forecast_demand,
    cast(on_hand as bigint) as on_hand,
    cast(available as bigint) as available,
    cast(in_transit as bigint) as in_transit,
    cast(open_production as bigint) as open_production,
    cast(safety_stock as bigint) as safety_stock,
    cast(prebuild_qty as bigint) as prebuild_qty,
    cast(lead_time_days as integer) as lead_time_days,
    cast(min_order_qty as bigint) as min_order_qty,
    cast(days_of_cover as double) as days_of_cover,
    cast(case when net_need > 0 then ceil(net_need / min_order_qty) * min_order_qty else 0 end as bigint)
        as suggested_qty,
    cast({{ dbt.dateadd("day", "cast(greatest(coalesce(days_of_cover, 0) - lead_time_days, 0) as integer)", "as_of_day") }} as date)
        as order_by_day,
    case
        when net_need <= 0 then 'none'
        when days_of_cover is null or days_of_cover < lead_time_days then 'urgent'
        when days_of_cover < lead_time_days + 7 then 'high'
        else 'normal'
    end as priority
from suggested
