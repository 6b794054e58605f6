-- One row per day, SKU and warehouse where the stock does not add up: on hand today is not
-- yesterday's on hand plus the day's movements. Empty when the WMS exports are consistent;
-- published like any mart so a break is seen by the people who can chase it, not hidden.
select * from {{ ref('int_stock_flows_checked') }}
