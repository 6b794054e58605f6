-- discount is money off the whole line; net_amount is what the line earned
select
    order_id,
    line_no,
    ordered_at,
    day as order_day,
    partner_id,
    sku,
    qty,
    unit_price,
    coalesce(discount, 0) as discount,
    cast(qty * unit_price - coalesce(discount, 0) as decimal(18, 2)) as net_amount,
    region,
    warehouse_id,
    live_session_id,
    live_session_id is not null as is_live,
    status
from {{ bronze_source('sales', 'order_lines') }}
