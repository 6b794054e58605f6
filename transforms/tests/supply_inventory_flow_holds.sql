-- Stock flows hold: for every day, warehouse and SKU,
--     on_hand(day) = on_hand(day before) + the day's net movement.
-- Fails with the breaking days (expected vs actual, difference, reason) as its rows.
{{ config(severity='error') }}

select *
from {{ ref('int_stock_flows_checked') }}
where {{ build_window_filter('stock_day') }}
