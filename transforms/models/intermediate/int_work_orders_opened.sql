-- a table, not a view: the balance and the replenishment both read it
{{ config(materialized='table') }}
-- One row per open work order (released or in progress, due after the last day of history):
-- production the factories have promised, with the factory's region and the day it is due.
with

last_day as (
    -- the last day of history, as the forward forecast cuts off there (not from every order
    -- line: its cost does not grow with the lines of history)
    select last_history_day as as_of_day
    from {{ ref('int_demand_forecast_origins_listed') }}
    where forecast_origin = 'forward'
)

select
    work_orders.work_order_id,
    work_orders.sku,
    factories.region,
    factories.supplier_id,
    work_orders.due_date,
    work_orders.qty_planned
from {{ ref('int_work_orders_released') }} as work_orders
inner join {{ ref('stg_master__factories') }} as factories on work_orders.factory_id = factories.factory_id
cross join last_day
where work_orders.status in ('released', 'in_progress')
  and work_orders.due_date > last_day.as_of_day
