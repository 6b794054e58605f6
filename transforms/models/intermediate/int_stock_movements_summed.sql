-- One row per business day, warehouse and SKU with any stock movement: the day's movements
-- summed by type. Every quantity is the signed change to on hand (receipts, returns and
-- transfers in are positive; shipments and transfers out negative; adjustments either way),
-- so net_movement is what the day did to on hand.

with

stock_movements as (
    select movement_day, warehouse_id, sku, movement_type, qty
    from {{ ref('stg_inventory__stock_movements') }}
)

select
    movement_day,
    warehouse_id,
    sku,
    cast(sum(case when movement_type = 'receipt' then qty else 0 end) as bigint) as receipts,
    cast(sum(case when movement_type = 'shipment' then qty else 0 end) as bigint) as shipments,
    cast(sum(case when movement_type = 'return' then qty else 0 end) as bigint) as returns,
    cast(sum(case when movement_type = 'adjustment' then qty else 0 end) as bigint) as adjustments,
    cast(sum(case when movement_type = 'transfer' and qty > 0 then qty else 0 end) as bigint) as transfers_in,
    cast(sum(case when movement_type = 'transfer' and qty < 0 then qty else 0 end) as bigint) as transfers_out,
    cast(sum(qty) as bigint) as net_movement,
    count(*) as movement_count
from stock_movements
group by movement_day, warehouse_id, sku
