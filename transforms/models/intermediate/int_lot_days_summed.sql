{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('production_day') }}",
    on_schema_change='fail',
    meta={'day_column': 'production_day'},
) }}
-- One row per production lot and day it was made on: its line and SKU, the first and last
-- hour of output that day, good and scrap units. Every measure rolls up over days (min, max,
-- sum), so lots sums these compact rows instead of reading every hour of output of the
-- history, and an incremental build redoes only its window's days.
select
    lot_id,
    production_day,
    min(factory_id) as factory_id,
    min(line_id) as line_id,
    min(sku) as sku,
    min(produced_at) as first_produced_at,
    max(produced_at) as last_produced_at,
    cast(sum(qty_good) as bigint) as qty_good,
    cast(sum(qty_scrap) as bigint) as qty_scrap
from {{ ref('stg_factory__production_output') }}
where lot_id is not null
    and {{ in_build_window('production_day') }}
group by lot_id, production_day
