-- One row per SKU and region: the stock position at the end of the last snapshot day,
-- summed over the region's warehouses. The starting point of every projection; no rows when
-- the platform delivers no stock snapshots (inventory_position is then skipped), so the
-- balance and the replenishment count no stock.
with

last_day as (
    select max(snapshot_day) as as_of_day from {{ ref_unless_skipped('inventory_position') }}
),

positions as (
    select
        position.sku,
        warehouses.region,
        position.snapshot_day as as_of_day,
        position.on_hand,
        position.reserved,
        position.in_transit,
        position.available
    from {{ ref_unless_skipped('inventory_position') }} as position
    inner join last_day on position.snapshot_day = last_day.as_of_day
    inner join {{ ref('stg_master__warehouses') }} as warehouses on position.warehouse_id = warehouses.warehouse_id
)

select
    sku,
    region,
    as_of_day,
    sum(on_hand) as on_hand,
    sum(reserved) as reserved,
    sum(in_transit) as in_transit,
    sum(available) as available
from positions
group by sku, region, as_of_day
