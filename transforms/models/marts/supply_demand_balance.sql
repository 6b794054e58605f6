-- One row per SKU, region and forecast week: forecast demand against the stock on hand at
-- the start of the week plus the production due that week, and what that means: the gap,
-- days of cover, and the risk of running out or of holding too much.
--
-- Stock and production are pooled per SKU and shared out to regions by each region's share
-- of the SKU's forecast over the horizon (fair-share allocation): warehouses and factories
-- serve regions beyond their own (the demo has sales regions with no warehouse), and master
-- data does not say which serves which. Summed over regions, the balance is the SKU's.
-- Week 1 starts with available stock plus what is in transit at the end of the last
-- snapshot day; each later week starts with the previous week's projected end (stock +
-- production - demand, not floored at zero: a negative projection is the shortfall the
-- balance exists to show).
with

forecast_weeks as (
    select
        sku,
        region,
        cast(floor({{ dbt.datediff("min(forecast_day) over ()", "forecast_day", "day") }} / cast(7 as double)) as integer) + 1 as week_number,
        forecast_day,
        forecast_units
    from {{ ref('demand_forecast') }}
),

weekly_demand as (
    select
        sku,
        region,
        week_number,
        min(forecast_day) as week_start_day,
        max(forecast_day) as week_end_day,
        {{ exact_sum('forecast_units') }} as forecast_demand
    from forecast_weeks
    group by sku, region, week_number
),

region_shares as (
    select
        sku,
        region,
        coalesce(sum(forecast_demand) / nullif(sum(sum(forecast_demand)) over (partition by sku), 0),
                 cast(1 as double) / count(*) over (partition by sku)) as demand_share
    from weekly_demand
    group by sku, region
),

sku_production as (
    select
        demand.sku,
        demand.week_number,
        coalesce(sum(work_orders.qty_planned), 0) as planned_production
    from (select distinct sku, week_number, week_start_day, week_end_day from weekly_demand) as demand
    left join {{ ref('int_work_orders_opened') }} as work_orders
        on work_orders.sku = demand.sku
        and work_orders.due_date between demand.week_start_day and demand.week_end_day
    group by demand.sku, demand.week_number
),

sku_stock as (
    select sku, sum(available + in_transit) as stock
    from {{ ref('int_stock_positions_latest') }}
    group by sku
),

weeks as (
    select
        demand.sku,
        products.supplier_id,
        demand.region,
        demand.week_number,
        demand.week_start_day,
        demand.week_end_day,
        demand.forecast_demand,
        production.planned_production * shares.demand_share as planned_production,
        coalesce(stock.stock, 0) * shares.demand_share as opening_stock,
        products.lead_time_days,
        products.shelf_life_days
    from weekly_demand as demand
    inner join region_shares as shares on demand.sku = shares.sku and demand.region = shares.region
    inner join sku_production as production on demand.sku = production.sku and demand.week_number = production.week_number
    inner join {{ ref('stg_master__products') }} as products on demand.sku = products.sku
    left join sku_stock as stock on demand.sku = stock.sku
),

projected as (
    select
        *,
        opening_stock + cast({{ exact_sum('planned_production - forecast_demand') }} over (
            partition by sku, region order by week_number rows between unbounded preceding and current row
        ) as double) as projected_end_stock
    from weeks
),

balanced as (
    select
        *,
        projected_end_stock - planned_production + forecast_demand as projected_start_stock
    from projected
)

select
    sku,
    supplier_id,
    region,
    cast(week_number as integer) as week_number,
    week_start_day,
    week_end_day,
    cast(forecast_demand as double) as forecast_demand,
    cast(projected_start_stock as double) as available_stock,
    cast(planned_production as double) as planned_production,
    cast(projected_end_stock as double) as projected_end_stock,
    cast(forecast_demand - projected_start_stock - planned_production as double) as gap,
    cast(case when forecast_demand > 0 then greatest(projected_start_stock, 0) / (forecast_demand / 7) end as double)
        as days_of_cover,
    case
        when projected_end_stock < 0 then 'high'
        when forecast_demand > 0 and greatest(projected_start_stock, 0) / (forecast_demand / 7) < lead_time_days then 'medium'
        else 'low'
    end as stockout_risk,
    case
        when forecast_demand = 0 and projected_start_stock > 0 then 'high'
        when forecast_demand > 0 and projected_start_stock / (forecast_demand / 7) > coalesce(cast(shelf_life_days as double) / 2, 90) then 'high'
        when forecast_demand > 0 and projected_start_stock / (forecast_demand / 7) > 60 then 'medium'
        else 'low'
    end as overstock_risk
from balanced
