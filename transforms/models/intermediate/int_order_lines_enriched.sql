-- One row per order line, with its partner's type and the unit and money buckets its status
-- puts it in. The single place where "sold", "refunded", "cancelled" and "demand" are defined:
--   units_sold      paid lines (kept sales)
--   units_refunded  refunded lines (sold, then money returned)
--   units_cancelled cancelled lines (never shipped)
--   demand_units    paid + refunded: what consumers wanted and the platform shipped; the
--                   quantity the forecast predicts (cancellations are not demand to serve)
--   revenue         net_amount of paid lines; refunds: net_amount of refunded lines
--   live_units      paid units sold inside a live-stream session
with

order_lines as (
    select * from {{ ref('stg_sales__order_lines') }}
),

partners as (
    select partner_id, partner_type from {{ ref('stg_master__partners') }}
)

select
    order_lines.order_id,
    order_lines.line_no,
    order_lines.ordered_at,
    order_lines.order_day,
    order_lines.partner_id,
    coalesce(partners.partner_type, 'unknown') as partner_type,
    order_lines.sku,
    order_lines.region,
    order_lines.warehouse_id,
    order_lines.live_session_id,
    order_lines.is_live,
    order_lines.status,
    order_lines.qty as units_ordered,
    order_lines.net_amount,
    case when order_lines.status = 'paid' then order_lines.qty else 0 end as units_sold,
    case when order_lines.status = 'refunded' then order_lines.qty else 0 end as units_refunded,
    case when order_lines.status = 'cancelled' then order_lines.qty else 0 end as units_cancelled,
    case when order_lines.status in ('paid', 'refunded') then order_lines.qty else 0 end as demand_units,
    case when order_lines.status = 'paid' then order_lines.net_amount else 0 end as revenue,
    case when order_lines.status = 'refunded' then order_lines.net_amount else 0 end as refunds,
    case when order_lines.status = 'paid' and order_lines.is_live then order_lines.qty else 0 end as live_units
from order_lines
left join partners on order_lines.partner_id = partners.partner_id
