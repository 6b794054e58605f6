select work_order_id, factory_id, sku, released_at, day as release_day, qty_planned, due_date, status
from {{ bronze_source('factory', 'work_orders') }}
