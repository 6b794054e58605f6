-- daily_supply loses and invents nothing: per production day, its good and scrap units
-- equal those of the MES's hourly output in staging. Fails with the days that differ.
-- An incremental build checks the days it rebuilt.
{{ config(meta={'dagster': {'ref': {'name': 'daily_supply'}}}) }}

with

mart_days as (
    select production_day, sum(qty_good) as qty_good, sum(qty_scrap) as qty_scrap
    from {{ ref('daily_supply') }}
    where {{ build_window_filter('production_day') }}
    group by production_day
),

staging_days as (
    select production_day, sum(qty_good) as qty_good, sum(qty_scrap) as qty_scrap
    from {{ ref('stg_factory__production_output') }}
    where {{ build_window_filter('production_day') }}
    group by production_day
)

select
    coalesce(mart_days.production_day, staging_days.production_day) as production_day,
    mart_days.qty_good as mart_qty_good,
    staging_days.qty_good as staging_qty_good,
    mart_days.qty_scrap as mart_qty_scrap,
    staging_days.qty_scrap as staging_qty_scrap
from mart_days
full outer join staging_days
    on staging_days.production_day = mart_days.production_day
where mart_days.production_day is null
    or staging_days.production_day is null
    or mart_days.qty_good <> staging_days.qty_good
    or mart_days.qty_scrap <> staging_days.qty_scrap
