-- One row per forecast origin and SKU (the catalogue's and every SKU that sold): the SKU's
-- demand class, from its history before the origin's cut-off only, so the backtest can report
-- its accuracy per kind of SKU without looking at the held-out days.
--   new           no sale before the cut-off, or a first sale fewer than new_sku_days days
--                 before it: too little history to fit (launched late)
--   intermittent  sells on few days: ADI (average demand interval = trading days / days with
--                 demand, all regions together) above 1.32 over the last class_window_days
--                 since its first sale (Syntetos & Boylan's cut-off between smooth and
--                 intermittent/lumpy demand); cv2 (squared coefficient of variation of the
--                 non-zero days' demand) is reported beside it
--   fast          the others that make up the first 80% of the window's demand, biggest first
--   slow          the rest
{%- set class_window_days = var('forecast_class_window_days', 56) %}
{%- set new_sku_days = var('forecast_new_sku_days', 28) %}
with

origins as (
    select forecast_origin, cutoff_day from {{ ref('int_demand_forecast_origins_listed') }}
),

catalogue_skus as (
    select sku from {{ ref('stg_master__products') }} where sku is not null
    union
    select sku from {{ ref('int_demand_days_filled') }}
),

sku_days as (
    select sku, demand_day, sum(demand_units) as demand_units
    from {{ ref('int_demand_days_filled') }}
    where demand_day > (select {{ demand_add_days(-class_window_days, 'min(cutoff_day)') }} from origins)
    group by sku, demand_day
),

first_sales as (
    select sku, min(demand_day) as first_sale_day
    from {{ ref('int_demand_days_filled') }}
    where demand_units > 0
    group by sku
),

window_days as (
    select origins.forecast_origin, sku_days.sku, sku_days.demand_units
    from origins
    inner join sku_days
        on sku_days.demand_day <= origins.cutoff_day
        and sku_days.demand_day > {{ demand_add_days(-class_window_days, 'origins.cutoff_day') }}
    inner join first_sales
        on first_sales.sku = sku_days.sku
        and sku_days.demand_day >= first_sales.first_sale_day
),

window_stats as (
    select
        forecast_origin,
        sku,
        count(*) as window_days,
        count(case when demand_units > 0 then 1 end) as demand_days,
        sum(demand_units) as window_units,
        avg(case when demand_units > 0 then demand_units end) as mean_nonzero_units,
        var_pop(case when demand_units > 0 then demand_units end) as var_nonzero_units
    from window_days
    group by forecast_origin, sku
),

skus as (
    select
        origins.forecast_origin,
        catalogue_skus.sku,
        case when first_sales.first_sale_day <= origins.cutoff_day then first_sales.first_sale_day end as first_sale_day,
        coalesce(window_stats.window_units, 0) as window_units,
        cast(window_stats.window_days as double) / nullif(window_stats.demand_days, 0) as adi,
        window_stats.var_nonzero_units / nullif(window_stats.mean_nonzero_units * window_stats.mean_nonzero_units, 0) as cv2
    from origins
    cross join catalogue_skus
    left join first_sales on first_sales.sku = catalogue_skus.sku
    left join window_stats
        on window_stats.forecast_origin = origins.forecast_origin
        and window_stats.sku = catalogue_skus.sku
),

classed as (
    select
        skus.*,
        case
            when first_sale_day is null
                or {{ demand_days_between('first_sale_day', 'cutoff_day') }} < {{ new_sku_days }} then 'new'
            when adi is null or adi > 1.32 then 'intermittent'
        end as early_class
    from skus
    inner join origins on origins.forecast_origin = skus.forecast_origin
),

ranked as (
    select
        classed.*,
        -- the demand of the steady SKUs above this one, biggest first (ties by SKU)
        coalesce(sum(window_units) over (
            partition by forecast_origin, early_class is null
            order by window_units desc, sku
            rows between unbounded preceding and 1 preceding
        ), 0) / nullif(sum(window_units) over (partition by forecast_origin, early_class is null), 0) as share_above
    from classed
)

select
    forecast_origin,
    sku,
    coalesce(early_class, case when share_above < 0.8 then 'fast' else 'slow' end) as sku_class,
    first_sale_day,
    cast(window_units as bigint) as window_units,
    cast(round(adi, 4) as double) as adi,
    cast(round(cv2, 4) as double) as cv2
from ranked
