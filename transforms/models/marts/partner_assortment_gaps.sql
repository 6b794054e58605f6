-- One row per channel partner and SKU it could add: the SKUs among the var('partner_gap_top_n')
-- best sellers of its region over the 28 days ending on the latest complete week's Sunday
-- (units sold, paid lines, on every partner's order lines in that region) that the partner
-- did not sell in those 28 days. regional_rank is the SKU's rank in the region (1 = most
-- units; ties by SKU), so a partner sees which gap matters most.
with

window_days as (
    select * from {{ ref('int_partner_weeks_bounded') }}
),

partners as (
    select partner_id, partner_type, region from {{ ref('stg_master__partners') }}
),

lines as (
    select lines.partner_id, lines.sku, lines.region, lines.units_sold
    from {{ ref('int_order_lines_enriched') }} as lines
    cross join window_days
    where lines.order_day between window_days.trailing_start_day and window_days.week_end_day
),

regional as (
    select
        region,
        sku,
        sum(units_sold) as regional_units,
        count(distinct case when units_sold > 0 then partner_id end) as regional_partners
    from lines
    group by region, sku
    having sum(units_sold) > 0
),

ranked as (
    select
        region,
        sku,
        regional_units,
        regional_partners,
        row_number() over (partition by region order by regional_units desc, sku) as regional_rank
    from regional
),

carried as (
    select distinct partner_id, sku from lines where units_sold > 0
)

select
    partners.partner_id,
    partners.partner_type,
    partners.region,
    window_days.week_end_day,
    ranked.sku,
    products.product_name,
    products.category,
    cast(ranked.regional_rank as integer) as regional_rank,
    cast(ranked.regional_units as bigint) as regional_units_28d,
    cast(ranked.regional_partners as bigint) as regional_partners_28d
from partners
cross join window_days
inner join ranked
    on ranked.region = partners.region
    and ranked.regional_rank <= {{ var('partner_gap_top_n') }}
left join carried on carried.partner_id = partners.partner_id and carried.sku = ranked.sku
left join {{ ref('stg_master__products') }} as products on products.sku = ranked.sku
where carried.sku is null
