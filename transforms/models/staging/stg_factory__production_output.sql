select factory_id, line_id, sku, produced_at, day as production_day, qty_good, qty_scrap, lot_id
from {{ bronze_source('factory', 'production_output') }}
