{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ clear_build_window('production_day') }}",
    on_schema_change='fail',
    meta={'day_column': 'production_day'},
) }}
-- One row per production day, SKU, factory and line: the good and scrap units the line made
-- of the SKU that day, and in how many hours it reported output. supplier_id is the owner of
-- the factory (the supplier whose feed this production belongs to).

with

hourly_output as (
    select production_day, sku, factory_id, line_id, produced_at, qty_good, qty_scrap
    from {{ ref('stg_factory__production_output') }}
    where {{ in_build_window('production_day') }}
),

factories as (
    select factory_id, supplier_id
    from {{ ref('stg_master__factories') }}
),

daily_output as (
    select
        production_day,
        sku,
        factory_id,
        line_id,
        cast(sum(qty_good) as bigint) as qty_good,
        cast(sum(qty_scrap) as bigint) as qty_scrap,
        count(distinct case when qty_good + qty_scrap > 0 then produced_at end) as hours_producing
    from hourly_output
    group by production_day, sku, factory_id, line_id
)

select
    daily_output.production_day,
    daily_output.sku,
    daily_output.factory_id,
    daily_output.line_id,
    factories.supplier_id,
    daily_output.qty_good,
    daily_output.qty_scrap,
    {{ supply_ratio('daily_output.qty_scrap', 'daily_output.qty_good + daily_output.qty_scrap') }} as scrap_rate,
    daily_output.hours_producing
from daily_output
left join factories
    on factories.factory_id = daily_output.factory_id
