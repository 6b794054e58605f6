-- One row per supplier and SKU: what sold lately, what is forecast, what stock and production
-- are already there, and how much the platform suggests the supplier produce or ship now.
--
-- The need covers demand over the lead time plus one weekly review period, plus safety stock
-- (1.65 standard deviations of daily demand over the lead time: about 95% service); what is
-- available, in transit and already in open work orders is netted off, and a positive need is
-- rounded up to whole multiples of the minimum order quantity. This mart is the source of
-- the supplier feeds.
with

last_day as (
    select max(order_day) as as_of_day from {{ ref('daily_demand') }}
),

recent_daily as (
    select demand.sku, demand.order_day, sum(demand.units_sold + demand.units_refunded) as units
    from {{ ref('daily_demand') }} as demand
    cross join last_day
    where demand.order_day > {{ dbt.dateadd("day", -28, "last_day.as_of_day") }}
    group by demand.sku, demand.order_day
),

recent as (
    select
        sku,
        sum(units) as recent_demand_28d,
        cast(sum(units) as double) / 28 as mean_daily_units,
        coalesce({{ exact_stddev_samp('units') }}, 0) as sd_daily_units
    from recent_daily
    group by sku
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

open_production as (
    select sku, sum(qty_planned) as open_production
    from {{ ref('int_work_orders_opened') }}
    group by sku
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
        coalesce(stock.on_hand, 0) as on_hand,
        coalesce(stock.available, 0) as available,
        coalesce(stock.in_transit, 0) as in_transit,
        coalesce(open_production.open_production, 0) as open_production,
        ceil(1.65 * coalesce(recent.sd_daily_units, 0) * sqrt(products.lead_time_days)) as safety_stock
    from {{ ref('stg_master__products') }} as products
    cross join last_day
    left join recent on products.sku = recent.sku
    left join forecast on products.sku = forecast.sku
    left join stock on products.sku = stock.sku
    left join open_production on products.sku = open_production.sku
),

suggested as (
    select
        *,
        forecast_daily_units * (lead_time_days + 7) + safety_stock
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
