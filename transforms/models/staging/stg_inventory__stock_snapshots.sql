select snapshot_date, warehouse_id, sku, on_hand, reserved, in_transit
from {{ bronze_source('inventory', 'stock_snapshots') }}
