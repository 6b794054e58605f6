-- qty is the signed change to on hand: receipts and returns positive, shipments negative
select movement_id, moved_at, day as movement_day, warehouse_id, sku, qty, movement_type, lot_id
from {{ bronze_source('inventory', 'stock_movements') }}
