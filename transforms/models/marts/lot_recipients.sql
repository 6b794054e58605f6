{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('order_day', onward=true, days_before=2) }}",
    on_schema_change='fail',
    meta={'day_column': 'order_day'},
) }}
-- One row per order line and lot that served it: the recall mart
--     select * from lot_recipients where lot_id = 'X'
-- lists the partners and orders that received units of lot X. Per SKU and warehouse, the
-- units that shipped (stock_lot_allocations, numbered among shipments in the order they
-- left) go to the order lines that ship (paid and refunded) in the order they were placed,
-- first in first out; each overlap of an order line's range of units with a shipment
-- piece's is the units of that piece's lot the line received. Units ordered past what has
-- shipped so far are 'unallocated' (allocation not_shipped: a stockout, or shipping still
-- to come); lines without a serving warehouse are 'unallocated' too (no_warehouse). Each row
-- carries the chain of its lot: supplier, factory, production line and work order (lots).
-- An incremental build redoes its window's days onward, and the two days before it (an
-- order placed after the last wave ships the next day).

with

order_lines as (
    select order_id, line_no, ordered_at, order_day, partner_id, partner_type, region, warehouse_id, sku,
        demand_units as units
    from {{ ref('int_order_lines_enriched') }}
    where demand_units > 0
        and {{ in_build_window('order_day', days_before=2, onward=true) }}
),

{{ pair_totals_before(['ordered_through']) }}

numbered as (
    select
        order_lines.*,
        {{ pair_running_total('order_lines.units', 'order_lines',
            'order_lines.ordered_at, order_lines.order_id, order_lines.line_no',
            'totals_before.ordered_through_before') }} as line_through
    from order_lines
    {{ join_pair_totals_before('order_lines') }}
    where order_lines.warehouse_id is not null
),

ranges as (
    select numbered.*, line_through - units as line_from
    from numbered
),

first_units as (
    -- per pair, the first unit the lines being built ordered: no shipment that ended before it
    -- can serve them, so an incremental build joins its few days of lines to the shipments
    -- still open for them, not to every shipment of the history
    select warehouse_id, sku, min(line_from) as line_from
    from ranges
    group by warehouse_id, sku
),

shipped as (
    select allocations.warehouse_id, allocations.sku, allocations.lot_id, allocations.allocation,
        allocations.shipped_from, allocations.shipped_through
    from {{ ref('stock_lot_allocations') }} as allocations
    inner join first_units
        on first_units.warehouse_id = allocations.warehouse_id
        and first_units.sku = allocations.sku
        and allocations.shipped_through > first_units.line_from
    where allocations.movement_type = 'shipment'
),

shipped_totals as (
    -- the pair's shipped units (of the shipments kept: when none is, every line starts past
    -- them, which greatest(line_from, 0) below says the same)
    select warehouse_id, sku, max(shipped_through) as shipped_total
    from shipped
    group by warehouse_id, sku
),

pieces as (
    select
        ranges.order_id,
        ranges.line_no,
        shipped.lot_id,
        shipped.allocation,
        greatest(ranges.line_from, shipped.shipped_from) as piece_from,
        least(ranges.line_through, shipped.shipped_through) as piece_through
    from ranges
    inner join shipped
        on shipped.warehouse_id = ranges.warehouse_id
        and shipped.sku = ranges.sku
        and shipped.shipped_from < ranges.line_through
        and shipped.shipped_through > ranges.line_from
    union all
    select
        ranges.order_id,
        ranges.line_no,
        'unallocated' as lot_id,
        'not_shipped' as allocation,
        greatest(ranges.line_from, coalesce(shipped_totals.shipped_total, 0)) as piece_from,
        ranges.line_through as piece_through
    from ranges
    left join shipped_totals
        on shipped_totals.warehouse_id = ranges.warehouse_id
        and shipped_totals.sku = ranges.sku
    where ranges.line_through > coalesce(shipped_totals.shipped_total, 0)
),

pieces_per_lot as (
    -- one line may get units of one lot from several shipments
    select order_id, line_no, lot_id, allocation, sum(piece_through - piece_from) as units
    from pieces
    where piece_through > piece_from
    group by order_id, line_no, lot_id, allocation
),

allocated as (
    select
        ranges.order_id,
        ranges.line_no,
        ranges.ordered_at,
        ranges.order_day,
        ranges.partner_id,
        ranges.partner_type,
        ranges.region,
        ranges.warehouse_id,
        ranges.sku,
        pieces_per_lot.lot_id,
        pieces_per_lot.allocation,
        pieces_per_lot.units,
        ranges.line_through as ordered_through
    from ranges
    inner join pieces_per_lot
        on pieces_per_lot.order_id = ranges.order_id
        and pieces_per_lot.line_no = ranges.line_no
    union all
    select
        order_id,
        line_no,
        ordered_at,
        order_day,
        partner_id,
        partner_type,
        region,
        warehouse_id,
        sku,
        'unallocated' as lot_id,
        'no_warehouse' as allocation,
        units,
        cast(null as bigint) as ordered_through
    from order_lines
    where warehouse_id is null
),

lots as (
    select lot_id, supplier_id, factory_id, line_id, work_order_id, first_production_day
    from {{ ref_unless_skipped('lots') }}
),

products as (
    select sku, supplier_id from {{ ref('stg_master__products') }}
)

select
    allocated.lot_id,
    allocated.allocation,
    allocated.order_id,
    allocated.line_no,
    allocated.ordered_at,
    allocated.order_day,
    allocated.partner_id,
    allocated.partner_type,
    allocated.region,
    allocated.warehouse_id,
    allocated.sku,
    products.supplier_id,
    lots.factory_id,
    lots.line_id,
    lots.work_order_id,
    lots.first_production_day as production_day,
    cast(allocated.units as bigint) as units,
    cast(allocated.ordered_through as bigint) as ordered_through
from allocated
left join lots
    on lots.lot_id = allocated.lot_id
left join products
    on products.sku = allocated.sku
