{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('movement_day', onward=true) }}",
    on_schema_change='fail',
    meta={'day_column': 'movement_day'},
) }}
-- One row per movement INTO a warehouse (receipts, transfers in, returns, counts that found
-- units), stacked per SKU and warehouse in the order they arrived: the movement holds the
-- units numbered [inflow_from, inflow_through) of everything the pair ever took in. The
-- lot is the one the movement carries (receipts from the factories), null when it carries
-- none. First in, first out: stock_lot_allocations hands the units out in this order.
-- An incremental build restacks its window's days onward, on top of the days before it.

with

inflows as (
    select movement_id, moved_at, movement_day, warehouse_id, sku, movement_type, lot_id, qty as units
    from {{ ref('stg_inventory__stock_movements') }}
    where qty > 0
        and {{ in_build_window('movement_day', onward=true) }}
),

{{ pair_totals_before(['inflow_through']) }}

stacked as (
    select
        inflows.*,
        {{ pair_running_total('inflows.units', 'inflows', 'inflows.moved_at, inflows.movement_id',
            'totals_before.inflow_through_before') }} as inflow_through
    from inflows
    {{ join_pair_totals_before('inflows') }}
)

select
    movement_id,
    moved_at,
    movement_day,
    warehouse_id,
    sku,
    movement_type,
    lot_id,
    units,
    cast(inflow_through - units as bigint) as inflow_from,
    cast(inflow_through as bigint) as inflow_through
from stacked
