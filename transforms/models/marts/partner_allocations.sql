-- One row per SKU and channel partner in the first forecast week in which the SKU's forecast
-- demand exceeds what its suppliers can still deliver: the partner's fair share of what is left.
--
-- What suppliers can deliver is, per SKU, available + in transit + open production
-- (supplier_replenishment, as of the last day of history), less the forecast demand of the
-- weeks before (demand_forecast, every region, weeks of 7 days from the day after). The first
-- week whose demand exceeds what is then left is constrained, and what is left (whole units)
-- is shared out.
--
-- Fair-share rule: each partner's share is its part of the SKU's demand units (paid +
-- refunded) over the 28 days up to the last day of history, among partners in the master
-- data. Its quota is left_units x share; each partner gets the whole part of its quota, and
-- the units still left (fewer than the partners) go one each to the largest remainders, ties
-- to the smaller partner_id (largest-remainder method). Allocations are whole units, add up to
-- exactly the units left, differ from the quota by less than one unit, and the same data gives
-- the same allocations. A SKU nobody sold in those 28 days has no shares and no rows.
{%- set weeks = var('forecast_horizon_days') // 7 %}
with

supply as (
    select
        sku,
        supplier_id,
        product_name,
        as_of_day,
        greatest(available, 0) + in_transit + open_production as deliverable_units
    from {{ ref('supplier_replenishment') }}
),

forecast_weeks as (
    select
        sku,
        cast(floor(cast(horizon_day - 1 as double) / 7) as integer) + 1 as forecast_week,
        min(forecast_day) as forecast_week_start_day,
        max(forecast_day) as forecast_week_end_day,
        {{ exact_sum('forecast_units') }} as forecast_units
    from {{ ref('demand_forecast') }}
    where horizon_day between 1 and {{ 7 * weeks }}
    group by sku, cast(floor(cast(horizon_day - 1 as double) / 7) as integer)
),

weeks_left as (
    select
        forecast_weeks.*,
        supply.supplier_id,
        supply.product_name,
        supply.as_of_day,
        supply.deliverable_units,
        greatest(
            supply.deliverable_units - coalesce(sum(forecast_weeks.forecast_units) over (
                partition by forecast_weeks.sku order by forecast_weeks.forecast_week
                rows between unbounded preceding and 1 preceding
            ), 0),
            0
        ) as left_units
    from forecast_weeks
    inner join supply on supply.sku = forecast_weeks.sku
),

constrained as (
    select *
    from (
        select
            weeks_left.*,
            row_number() over (partition by sku order by forecast_week) as constrained_rank
        from weeks_left
        where forecast_units > left_units
    ) as ranked
    where constrained_rank = 1
),

partner_units as (
    select lines.partner_id, lines.sku, sum(lines.demand_units) as partner_units_28d
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join supply on supply.sku = lines.sku
    inner join {{ ref('stg_master__partners') }} as partners on partners.partner_id = lines.partner_id
    where lines.order_day > {{ demand_add_days(-28, 'supply.as_of_day') }}
        and lines.order_day <= supply.as_of_day
    group by lines.partner_id, lines.sku
    having sum(lines.demand_units) > 0
),

quotas as (
    select
        constrained.*,
        partner_units.partner_id,
        partner_units.partner_units_28d,
        sum(partner_units.partner_units_28d) over (partition by constrained.sku) as sku_units_28d,
        cast(floor(constrained.left_units) as bigint) as allocatable_units
    from constrained
    inner join partner_units on partner_units.sku = constrained.sku
),

whole_parts as (
    select
        quotas.*,
        cast(floor(cast(allocatable_units * partner_units_28d as double) / cast(sku_units_28d as double)) as bigint)
            as base_units
    from quotas
),

remainders as (
    select
        whole_parts.*,
        allocatable_units * partner_units_28d - base_units * sku_units_28d as remainder,
        allocatable_units - sum(base_units) over (partition by sku) as units_to_share
    from whole_parts
),

ranked as (
    select
        remainders.*,
        row_number() over (partition by sku order by remainder desc, partner_id) as remainder_rank
    from remainders
)

select
    ranked.partner_id,
    partners.partner_type,
    partners.region,
    ranked.sku,
    ranked.product_name,
    ranked.supplier_id,
    ranked.as_of_day,
    ranked.forecast_week_start_day,
    ranked.forecast_week_end_day,
    cast(ranked.forecast_units as double) as sku_forecast_units,
    cast(ranked.deliverable_units as bigint) as sku_deliverable_units,
    cast(ranked.allocatable_units as bigint) as sku_allocatable_units,
    cast(ranked.partner_units_28d as bigint) as partner_units_28d,
    cast(ranked.sku_units_28d as bigint) as sku_units_28d,
    cast(ranked.partner_units_28d as double) / cast(ranked.sku_units_28d as double) as fair_share,
    cast(ranked.base_units + case when ranked.remainder_rank <= ranked.units_to_share then 1 else 0 end as bigint)
        as allocated_units
from ranked
inner join {{ ref('stg_master__partners') }} as partners on partners.partner_id = ranked.partner_id
