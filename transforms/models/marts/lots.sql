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

-- the factory's work orders for the SKU and its lots' first outputs in one timeline: a lot's
-- work order is the last one released at or before it, found by counting the releases so far
-- (a sort per factory and SKU, where joining every lot to every earlier order grows as their
-- product)
timeline as (
    select factory_id, sku, released_at as happened_at, 0 as is_lot, work_order_id, cast(null as {{ dbt.type_string() }}) as lot_id
    from work_orders
    where factory_id is not null and sku is not null
    union all
    select factory_id, sku, first_produced_at as happened_at, 1 as is_lot, cast(null as {{ dbt.type_string() }}) as work_order_id, lot_id
    from lots
    where factory_id is not null and sku is not null
),

counted as (
    -- a release at the very time of a lot's first output comes before it; of two released at
    -- one time, the larger id last
    select
        timeline.*,
        sum(1 - is_lot) over (
            partition by factory_id, sku order by happened_at, is_lot, work_order_id
            rows between unbounded preceding and current row
        ) as releases_so_far
    from timeline
),

candidates as (
    select lots_counted.lot_id, releases.work_order_id
    from counted as lots_counted
    inner join counted as releases
        on releases.factory_id = lots_counted.factory_id
        and releases.sku = lots_counted.sku
        and releases.is_lot = 0
        and releases.releases_so_far = lots_counted.releases_so_far
    where lots_counted.is_lot = 1
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
left join factories
    on factories.factory_id = lots.factory_id
