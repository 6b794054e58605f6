-- One row per open work order (released or in progress, not yet due before the last day of
-- history): production the factories have promised, by the region of the factory and the
-- day it is due.
with

last_day as (
    select max(order_day) as as_of_day from {{ ref('stg_sales__order_lines') }}
)

select
    work_orders.work_order_id,
    work_orders.sku,
    factories.region,
    factories.supplier_id,
    work_orders.due_date,
    work_orders.qty_planned
from {{ ref('stg_factory__work_orders') }} as work_orders
inner join {{ ref('stg_master__factories') }} as factories on work_orders.factory_id = factories.factory_id
cross join last_day
where work_orders.status in ('released', 'in_progress')
  and work_orders.due_date > last_day.as_of_day
