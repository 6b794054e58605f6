{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('snapshot_day') }}",
    on_schema_change='fail',
    meta={'day_column': 'snapshot_day'},
) }}
-- One row per snapshot day, SKU and warehouse: the end-of-day stock position and what
-- moved that day. available = on_hand - reserved (reserved: ordered after the last wave,
-- ships tomorrow); in_transit: on the road from the factories, arriving tomorrow.
-- The movement columns are signed changes to on hand (shipments and transfers out
-- negative), so on_hand = previous day's on_hand + net_movement; where that does not
-- hold, int_stock_flows_checked lists the day.

with

snapshots as (
    select snapshot_date as snapshot_day, sku, warehouse_id, on_hand, reserved, in_transit
    from {{ ref('stg_inventory__stock_snapshots') }}
    where {{ in_build_window('snapshot_date') }}
),

daily_movements as (
    select * from {{ ref('int_stock_movements_summed') }}
    where {{ in_build_window('movement_day') }}
),

products as (
    select sku, supplier_id
    from {{ ref('stg_master__products') }}
)

select
    snapshots.snapshot_day,
    snapshots.sku,
    snapshots.warehouse_id,
    products.supplier_id,
    snapshots.on_hand,
    snapshots.reserved,
    snapshots.in_transit,
    snapshots.on_hand - snapshots.reserved as available,
    coalesce(daily_movements.receipts, 0) as receipts,
    coalesce(daily_movements.shipments, 0) as shipments,
    coalesce(daily_movements.returns, 0) as returns,
    coalesce(daily_movements.adjustments, 0) as adjustments,
    coalesce(daily_movements.transfers_in, 0) as transfers_in,
    coalesce(daily_movements.transfers_out, 0) as transfers_out,
    coalesce(daily_movements.net_movement, 0) as net_movement
from snapshots
left join daily_movements
    on daily_movements.movement_day = snapshots.snapshot_day
    and daily_movements.warehouse_id = snapshots.warehouse_id
    and daily_movements.sku = snapshots.sku
left join products
    on products.sku = snapshots.sku
