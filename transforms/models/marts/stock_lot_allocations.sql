{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('movement_day', onward=true) }}",
    on_schema_change='fail',
    meta={'day_column': 'movement_day'},
) }}
-- One row per movement OUT of a warehouse (shipments, transfers out, counts that lost units)
-- and lot it took units from, first in first out per SKU and warehouse: outflows are
-- numbered [outflow_from, outflow_through) in the order they left, inflows the same way in
-- the order they arrived (int_stock_inflows_stacked), and each overlap of the two ranges is
-- the units one outflow took from one inflow. The lot a shipment carries itself is not
-- trusted (many WMS exports have none): it is kept in carried_lot_id beside the allocation.
--   allocation  fifo                the units came from an inflow that carried a lot
--               inflow_without_lot  from an inflow without one (opening stock, a transfer or
--                                   return, a platform without lots): lot_id 'unallocated'
--               beyond_inflows      more left than ever came in: lot_id 'unallocated'
-- Shipments are also numbered among shipments alone ([shipped_from, shipped_through)):
-- lot_recipients hands those units to the order lines in the order they were placed.

with

outflows as (
    select movement_id, moved_at, movement_day, warehouse_id, sku, movement_type, lot_id as carried_lot_id,
        -qty as units
    from {{ ref('stg_inventory__stock_movements') }}
    where qty < 0
        and {{ in_build_window('movement_day', onward=true) }}
),

{{ pair_totals_before(['outflow_through', 'shipped_through']) }}

numbered as (
    select
        outflows.*,
        {{ pair_running_total('outflows.units', 'outflows', 'outflows.moved_at, outflows.movement_id',
            'totals_before.outflow_through_before') }} as outflow_through,
        {{ pair_running_total("case when outflows.movement_type = 'shipment' then outflows.units else 0 end",
            'outflows', 'outflows.moved_at, outflows.movement_id', 'totals_before.shipped_through_before') }}
            as shipments_through
    from outflows
    {{ join_pair_totals_before('outflows') }}
),

ranges as (
    select
        numbered.*,
        outflow_through - units as outflow_from,
        shipments_through - units as shipments_from
    from numbered
),

first_units as (
    -- per pair, the first unit the outflows being built took: no inflow that ended before it
    -- can serve them, so an incremental build joins its few days of outflows to the inflows
    -- still open for them, not to every inflow of the history
    select warehouse_id, sku, min(outflow_from) as outflow_from
    from ranges
    group by warehouse_id, sku
),

inflows as (
    select stacked.warehouse_id, stacked.sku, stacked.lot_id, stacked.inflow_from, stacked.inflow_through
    from {{ ref('int_stock_inflows_stacked') }} as stacked
    inner join first_units
        on first_units.warehouse_id = stacked.warehouse_id
        and first_units.sku = stacked.sku
        and stacked.inflow_through > first_units.outflow_from
),

inflow_totals as (
    -- the pair's inflow units (of the inflows kept: when none is, every outflow starts past
    -- them, which greatest(outflow_from, 0) below says the same)
    select warehouse_id, sku, max(inflow_through) as inflow_total
    from inflows
    group by warehouse_id, sku
),

from_inflows as (
    -- each overlap of an outflow's range with an inflow's
    select
        ranges.movement_id,
        inflows.lot_id,
        greatest(ranges.outflow_from, inflows.inflow_from) as piece_from,
        least(ranges.outflow_through, inflows.inflow_through) as piece_through
    from ranges
    inner join inflows
        on inflows.warehouse_id = ranges.warehouse_id
        and inflows.sku = ranges.sku
        and inflows.inflow_from < ranges.outflow_through
        and inflows.inflow_through > ranges.outflow_from
),

beyond_inflows as (
    -- the part of an outflow past everything the pair ever took in
    select
        ranges.movement_id,
        cast(null as {{ dbt.type_string() }}) as lot_id,
        greatest(ranges.outflow_from, coalesce(inflow_totals.inflow_total, 0)) as piece_from,
        ranges.outflow_through as piece_through
    from ranges
    left join inflow_totals
        on inflow_totals.warehouse_id = ranges.warehouse_id
        and inflow_totals.sku = ranges.sku
    where ranges.outflow_through > coalesce(inflow_totals.inflow_total, 0)
),

pieces as (
    select movement_id, lot_id, piece_from, piece_through, 'inflow' as piece_kind from from_inflows
    union all
    select movement_id, lot_id, piece_from, piece_through, 'beyond' as piece_kind from beyond_inflows
)

select
    ranges.movement_id,
    ranges.moved_at,
    ranges.movement_day,
    ranges.warehouse_id,
    ranges.sku,
    ranges.movement_type,
    coalesce(pieces.lot_id, 'unallocated') as lot_id,
    case
        when pieces.piece_kind = 'beyond' then 'beyond_inflows'
        when pieces.lot_id is null then 'inflow_without_lot'
        else 'fifo'
    end as allocation,
    cast(pieces.piece_through - pieces.piece_from as bigint) as units,
    cast(pieces.piece_from as bigint) as outflow_from,
    cast(pieces.piece_through as bigint) as outflow_through,
    cast(case when ranges.movement_type = 'shipment'
        then ranges.shipments_from + (pieces.piece_from - ranges.outflow_from) end as bigint) as shipped_from,
    cast(case when ranges.movement_type = 'shipment'
        then ranges.shipments_from + (pieces.piece_through - ranges.outflow_from) end as bigint) as shipped_through,
    ranges.carried_lot_id
from ranges
inner join pieces
    on pieces.movement_id = ranges.movement_id
where pieces.piece_through > pieces.piece_from
