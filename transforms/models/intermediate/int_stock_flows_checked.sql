{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('stock_day') }}",
    on_schema_change='fail',
    meta={'day_column': 'stock_day'},
) }}
-- One row per day, warehouse and SKU where the stock flow does NOT hold:
--     on_hand(day) = on_hand(day before) + net movement of the day
-- Empty when the WMS exports agree with themselves. Before a pair's first snapshot its
-- on hand is 0 (the opening stock arrives as a receipt on the first day); a first snapshot
-- its day's movements do not explain is the stock the pair opened with (a history that
-- starts with goods on the shelves, or a lake that keeps only its later days), not a break.
-- break_reason:
--   flow_mismatch              both snapshots exist and the movements do not explain the change
--   snapshot_missing           movements on a day without a snapshot of that day
--   previous_snapshot_missing  a snapshot whose day before has none, after the pair's first one

with

snapshots as (
    -- the days checked, and the day before the first of them (incremental builds check only
    -- the days whose bronze changed)
    select snapshot_date, warehouse_id, sku, on_hand
    from {{ ref('stg_inventory__stock_snapshots') }}
    where {{ in_build_window('snapshot_date', days_before=1) }}
),

daily_movements as (
    select movement_day, warehouse_id, sku, net_movement
    from {{ ref('int_stock_movements_summed') }}
    where {{ in_build_window('movement_day') }}
),

stock_days as (
    -- every day a pair has a snapshot or a movement
    select snapshot_date as stock_day, warehouse_id, sku from snapshots where {{ in_build_window('snapshot_date') }}
    union
    select movement_day as stock_day, warehouse_id, sku from daily_movements
),

stock_days_with_day_before as (
    -- each stock day with the pair's snapshot of the day before, if there is one
    select stock_days.stock_day, stock_days.warehouse_id, stock_days.sku, day_before.on_hand as day_before_on_hand
    from stock_days
    left join snapshots as day_before
        on day_before.warehouse_id = stock_days.warehouse_id
        and day_before.sku = stock_days.sku
        and day_before.snapshot_date = cast({{ dbt.dateadd('day', -1, 'stock_days.stock_day') }} as date)
),

pairs_without_day_before as (
    -- only a day whose day before has no snapshot asks for the pair's first snapshot: a new
    -- pair or a gap, so a day of a steady history looks up no earlier days
    select distinct warehouse_id, sku
    from stock_days_with_day_before
    where day_before_on_hand is null
),

first_snapshots as (
    select all_snapshots.warehouse_id, all_snapshots.sku, min(all_snapshots.snapshot_date) as first_snapshot_date
    from {{ ref('stg_inventory__stock_snapshots') }} as all_snapshots
    inner join pairs_without_day_before
        on pairs_without_day_before.warehouse_id = all_snapshots.warehouse_id
        and pairs_without_day_before.sku = all_snapshots.sku
    group by all_snapshots.warehouse_id, all_snapshots.sku
),

flows as (
    select
        stock_days.stock_day,
        stock_days.warehouse_id,
        stock_days.sku,
        case
            when stock_days.day_before_on_hand is not null then stock_days.day_before_on_hand
            when first_snapshots.first_snapshot_date is null
                or stock_days.stock_day <= first_snapshots.first_snapshot_date then 0
        end as previous_on_hand,
        coalesce(daily_movements.net_movement, 0) as net_movement,
        that_day.on_hand as actual_on_hand,
        coalesce(stock_days.stock_day = first_snapshots.first_snapshot_date, false) as opening_snapshot
    from stock_days_with_day_before as stock_days
    left join snapshots as that_day
        on that_day.warehouse_id = stock_days.warehouse_id
        and that_day.sku = stock_days.sku
        and that_day.snapshot_date = stock_days.stock_day
    left join first_snapshots
        on first_snapshots.warehouse_id = stock_days.warehouse_id
        and first_snapshots.sku = stock_days.sku
    left join daily_movements
        on daily_movements.warehouse_id = stock_days.warehouse_id
        and daily_movements.sku = stock_days.sku
        and daily_movements.movement_day = stock_days.stock_day
),

checked_flows as (
    select
        stock_day,
        warehouse_id,
        sku,
        previous_on_hand,
        net_movement,
        previous_on_hand + net_movement as expected_on_hand,
        actual_on_hand,
        actual_on_hand - (previous_on_hand + net_movement) as difference,
        case
            when actual_on_hand is null then 'snapshot_missing'
            when previous_on_hand is null then 'previous_snapshot_missing'
            when actual_on_hand <> previous_on_hand + net_movement and not opening_snapshot then 'flow_mismatch'
        end as break_reason
    from flows
)

select *
from checked_flows
where break_reason is not null
