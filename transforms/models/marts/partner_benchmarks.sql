-- One row per channel partner in the master data for the latest complete week
-- (int_partner_weeks_bounded): its sell-through, refund rate and live-session conversion in that
-- week, and the quartiles of the same figure among its peers (partners of the same type and
-- region with a value that week, itself included). A partner without orders that week gets
-- null rates and still its peers' quartiles, so it sees where the others stand.
--   sell_through    paid units / ordered units
--   refund_rate     refunded units / (paid + refunded units)
--   live_conversion orders placed in its own live sessions per 1,000 peak viewers of the
--                   sessions it started that week
with

week as (
    select * from {{ ref('int_partner_weeks_bounded') }}
),

partners as (
    select partner_id, partner_type, region from {{ ref('stg_master__partners') }}
),

week_sales as (
    select
        days.partner_id,
        sum(days.units_ordered) as units_ordered,
        sum(days.units_sold) as units_sold,
        sum(days.units_refunded) as units_refunded,
        sum(days.orders) as orders,
        sum(days.live_orders) as live_orders
    from {{ ref('int_partner_days_summed') }} as days
    cross join week
    where days.order_day between week.week_start_day and week.week_end_day
    group by days.partner_id
),

week_sessions as (
    select sessions.partner_id, count(*) as live_sessions, sum(sessions.peak_viewers) as live_peak_viewers
    from {{ ref('stg_sales__live_sessions') }} as sessions
    cross join week
    where sessions.session_day between week.week_start_day and week.week_end_day
    group by sessions.partner_id
),

figures as (
    select
        partners.partner_id,
        partners.partner_type,
        partners.region,
        week.week_start_day,
        week.week_end_day,
        coalesce(week_sales.units_ordered, 0) as units_ordered,
        coalesce(week_sales.units_sold, 0) as units_sold,
        coalesce(week_sales.units_refunded, 0) as units_refunded,
        coalesce(week_sales.orders, 0) as orders,
        coalesce(week_sessions.live_sessions, 0) as live_sessions,
        coalesce(week_sessions.live_peak_viewers, 0) as live_peak_viewers,
        coalesce(week_sales.live_orders, 0) as live_orders,
        cast(week_sales.units_sold as double) / nullif(week_sales.units_ordered, 0) as sell_through,
        cast(week_sales.units_refunded as double) / nullif(week_sales.units_sold + week_sales.units_refunded, 0)
            as refund_rate,
        cast(1000 * coalesce(week_sales.live_orders, 0) as double) / nullif(week_sessions.live_peak_viewers, 0)
            as live_conversion
    from partners
    cross join week
    left join week_sales on week_sales.partner_id = partners.partner_id
    left join week_sessions on week_sessions.partner_id = partners.partner_id
),

peers as (
    select
        partner_type,
        region,
        count(*) as peers,
        {{ supply_percentile('sell_through', 0.25) }} as sell_through_p25,
        {{ supply_percentile('sell_through', 0.5) }} as sell_through_median,
        {{ supply_percentile('sell_through', 0.75) }} as sell_through_p75,
        {{ supply_percentile('refund_rate', 0.25) }} as refund_rate_p25,
        {{ supply_percentile('refund_rate', 0.5) }} as refund_rate_median,
        {{ supply_percentile('refund_rate', 0.75) }} as refund_rate_p75,
        {{ supply_percentile('live_conversion', 0.25) }} as live_conversion_p25,
        {{ supply_percentile('live_conversion', 0.5) }} as live_conversion_median,
        {{ supply_percentile('live_conversion', 0.75) }} as live_conversion_p75
    from figures
    group by partner_type, region
)

select
    figures.partner_id,
    figures.partner_type,
    figures.region,
    figures.week_start_day,
    figures.week_end_day,
    cast(figures.units_ordered as bigint) as units_ordered,
    cast(figures.units_sold as bigint) as units_sold,
    cast(figures.units_refunded as bigint) as units_refunded,
    cast(figures.orders as bigint) as orders,
    cast(figures.live_sessions as bigint) as live_sessions,
    cast(figures.live_peak_viewers as bigint) as live_peak_viewers,
    cast(figures.live_orders as bigint) as live_orders,
    cast(peers.peers as bigint) as peers,
    cast(figures.sell_through as double) as sell_through,
    cast(peers.sell_through_p25 as double) as sell_through_peer_p25,
    cast(peers.sell_through_median as double) as sell_through_peer_median,
    cast(peers.sell_through_p75 as double) as sell_through_peer_p75,
    cast(figures.refund_rate as double) as refund_rate,
    cast(peers.refund_rate_p25 as double) as refund_rate_peer_p25,
    cast(peers.refund_rate_median as double) as refund_rate_peer_median,
    cast(peers.refund_rate_p75 as double) as refund_rate_peer_p75,
    cast(figures.live_conversion as double) as live_conversion,
    cast(peers.live_conversion_p25 as double) as live_conversion_peer_p25,
    cast(peers.live_conversion_median as double) as live_conversion_peer_median,
    cast(peers.live_conversion_p75 as double) as live_conversion_peer_p75
from figures
left join peers
    on peers.partner_type is not distinct from figures.partner_type
    and peers.region is not distinct from figures.region
