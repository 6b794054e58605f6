-- One row per production lot: what one line made of one SKU under one lot id (the MES names
-- it on every hourly output row), when, and the work order that could have asked for it: the
-- last one of the factory for that SKU released before the lot's first output, not
-- cancelled. Empty when the MES reports no lots.

with

lots as (
    -- rolled up from the lot's days (int_lot_days_summed), not from every hour of output
    select
        lot_id,
        min(factory_id) as factory_id,
        min(line_id) as line_id,
        min(sku) as sku,
        min(production_day) as first_production_day,
        min(first_produced_at) as first_produced_at,
        max(last_produced_at) as last_produced_at,
        cast(sum(qty_good) as bigint) as qty_good,
        cast(sum(qty_scrap) as bigint) as qty_scrap
    from {{ ref('int_lot_days_summed') }}
    group by lot_id
),

work_orders as (
    select work_order_id, factory_id, sku, released_at
    from {{ ref('int_work_orders_released') }}
    where status <> 'cancelled'
),

candidates as (
    select
        lots.lot_id,
        work_orders.work_order_id,
        row_number() over (
            partition by lots.lot_id order by work_orders.released_at desc, work_orders.work_order_id desc
        ) as recency
    from lots
    inner join work_orders
        on work_orders.factory_id = lots.factory_id
        and work_orders.sku = lots.sku
        and work_orders.released_at <= lots.first_produced_at
),

factories as (
    select factory_id, supplier_id from {{ ref('stg_master__factories') }}
)

select
    lots.lot_id,
    lots.sku,
    factories.supplier_id,
    lots.factory_id,
    lots.line_id,
    candidates.work_order_id,
    lots.first_production_day,
    lots.first_produced_at,
    lots.last_produced_at,
    lots.qty_good,
    lots.qty_scrap
from lots
left join candidates
    on candidates.lot_id = lots.lot_id
    and candidates.recency = 1
left join factories
    on factories.factory_id = lots.factory_id
