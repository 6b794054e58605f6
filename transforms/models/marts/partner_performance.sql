-- One row per channel partner (every partner in the master data, sales or not), rolled up
-- from int_partner_days_summed: its units,
-- revenue, refund rate, sell-through and live-stream conversion over the whole history and
-- over the last 28 days of history, ranked by revenue among partners of the same type.
--   refund_rate     refunded units / (paid + refunded units): of what was delivered, how much came back
--   sell_through    paid units / all ordered units: the share of ordered units that ended as
--                   kept sales (neither cancelled nor refunded)
--   live_conversion orders placed in the partner's own live sessions per 1,000 peak viewers
--                   (peak viewers summed over its sessions)
with

partners as (
    select partner_id, partner_type, region from {{ ref('stg_master__partners') }}
),

partner_days as (
    select * from {{ ref('int_partner_days_summed') }}
),

live_sessions as (
    select live_session_id, partner_id, peak_viewers from {{ ref('stg_sales__live_sessions') }}
),

last_history_day as (
    select max(order_day) as last_day from partner_days
),

sales_per_partner as (
    select
        partner_days.partner_id,
        sum(partner_days.units_ordered) as units_ordered,
        sum(partner_days.units_sold) as units_sold,
        sum(partner_days.units_refunded) as units_refunded,
        sum(partner_days.units_cancelled) as units_cancelled,
        sum(partner_days.revenue) as revenue,
        sum(partner_days.refunds) as refunds,
        sum(partner_days.orders) as orders,
        sum(partner_days.live_orders) as live_orders,
        min(case when partner_days.units_ordered > 0 then partner_days.order_day end) as first_order_day,
        max(case when partner_days.units_ordered > 0 then partner_days.order_day end) as last_order_day,
        sum(case when partner_days.order_day > {{ demand_add_days(-28, 'last_history_day.last_day') }} then partner_days.units_sold else 0 end) as units_sold_last_28d,
        sum(case when partner_days.order_day > {{ demand_add_days(-28, 'last_history_day.last_day') }} then partner_days.units_refunded else 0 end) as units_refunded_last_28d,
        sum(case when partner_days.order_day > {{ demand_add_days(-28, 'last_history_day.last_day') }} then partner_days.revenue else 0 end) as revenue_last_28d
    from partner_days
    cross join last_history_day
    group by partner_days.partner_id
),

sessions_per_partner as (
    select partner_id, count(*) as live_sessions, sum(peak_viewers) as live_peak_viewers
    from live_sessions
    group by partner_id
),

performance as (
    select
        partners.partner_id,
        partners.partner_type,
        partners.region,
        coalesce(sales_per_partner.units_ordered, 0) as units_ordered,
        coalesce(sales_per_partner.units_sold, 0) as units_sold,
        coalesce(sales_per_partner.units_refunded, 0) as units_refunded,
        coalesce(sales_per_partner.units_cancelled, 0) as units_cancelled,
        coalesce(sales_per_partner.revenue, 0) as revenue,
        coalesce(sales_per_partner.refunds, 0) as refunds,
        coalesce(sales_per_partner.orders, 0) as orders,
        sales_per_partner.first_order_day,
        sales_per_partner.last_order_day,
        coalesce(sales_per_partner.units_sold_last_28d, 0) as units_sold_last_28d,
        coalesce(sales_per_partner.units_refunded_last_28d, 0) as units_refunded_last_28d,
        coalesce(sales_per_partner.revenue_last_28d, 0) as revenue_last_28d,
        coalesce(sessions_per_partner.live_sessions, 0) as live_sessions,
        coalesce(sessions_per_partner.live_peak_viewers, 0) as live_peak_viewers,
        coalesce(sales_per_partner.live_orders, 0) as live_orders
    from partners
    left join sales_per_partner on sales_per_partner.partner_id = partners.partner_id
    left join sessions_per_partner on sessions_per_partner.partner_id = partners.partner_id
)

select
    partner_id,
    partner_type,
    region,
    cast(units_ordered as bigint) as units_ordered,
    cast(units_sold as bigint) as units_sold,
    cast(units_refunded as bigint) as units_refunded,
    cast(units_cancelled as bigint) as units_cancelled,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(refunds as decimal(18, 2)) as refunds,
    cast(orders as bigint) as orders,
    cast(units_refunded as double) / nullif(units_sold + units_refunded, 0) as refund_rate,
    cast(units_sold as double) / nullif(units_ordered, 0) as sell_through,
    cast(live_sessions as bigint) as live_sessions,
    cast(live_peak_viewers as bigint) as live_peak_viewers,
    cast(live_orders as bigint) as live_orders,
    cast(1000.0 * live_orders as double) / nullif(live_peak_viewers, 0) as live_conversion,
    cast(units_sold_last_28d as bigint) as units_sold_last_28d,
    cast(revenue_last_28d as decimal(18, 2)) as revenue_last_28d,
    cast(units_refunded_last_28d as double) / nullif(units_sold_last_28d + units_refunded_last_28d, 0) as refund_rate_last_28d,
    first_order_day,
    last_order_day,
    cast(rank() over (partition by partner_type order by revenue desc) as integer) as revenue_rank_in_type
from performance
