-- One row per SKU and day with an end-of-day stock snapshot of it: whether the SKU was out of
-- stock that day. When stock is out, sales understate demand (a consumer who finds nothing
-- buys nothing, or elsewhere): the forecast leaves these days out of its fit, so a stockout does
-- not teach it that demand fell (int_demand_forecasts_fitted).
--   available_units  on hand - reserved at the end of the day, summed over the warehouses with a
--                    snapshot of the SKU that day (the warehouses that hold it)
--   is_stockout      available_units <= 0: nothing left to sell anywhere
-- SKU-level on purpose: order lines carry the partner's region, not the warehouse that ships,
-- and a region without a warehouse of its own ships from a neighbour's. Without stock snapshots
-- (a platform that delivers none) this model is empty and no day is left out.
with

snapshots as (
    select snapshot_date, sku, on_hand, reserved
    from {{ ref('stg_inventory__stock_snapshots') }}
    where sku is not null and snapshot_date is not null
)

select
    sku,
    snapshot_date as stock_day,
    cast(count(*) as integer) as warehouses,
    cast(sum(coalesce(on_hand, 0) - coalesce(reserved, 0)) as bigint) as available_units,
    sum(coalesce(on_hand, 0) - coalesce(reserved, 0)) <= 0 as is_stockout
from snapshots
group by sku, snapshot_date
