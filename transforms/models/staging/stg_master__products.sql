select
    sku,
    name as product_name,
    category,
    supplier_id,
    unit_cost,
    unit_price as list_price,
    lead_time_days,
    min_order_qty,
    shelf_life_days
from {{ bronze_source('master', 'products') }}
