select snapshot_date, warehouse_id, sku, on_hand, reserved, in_transit
from {{ source('inventory', 'stock_snapshots') }}
