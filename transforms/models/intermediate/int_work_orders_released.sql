{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('release_day') }}",
    on_schema_change='fail',
    meta={'day_column': 'release_day'},
) }}
-- One row per work order, by the day it was released: the columns lots and the open orders
-- look it up by, kept as one compact table built by day, so that they read it instead of
-- every day's work-order file of the history.
select work_order_id, factory_id, sku, released_at, release_day, qty_planned, due_date, status
from {{ ref('stg_factory__work_orders') }}
where {{ in_build_window('release_day') }}
