-- A factory makes only SKUs of its own supplier: daily_supply (supplier = factory owner) and
-- inventory_position (supplier = the SKU's supplier) then route to the same supplier feed.
-- Warns with the line-days that break it.
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'daily_supply'}}}) }}

select
    daily_supply.production_day,
    daily_supply.factory_id,
    daily_supply.line_id,
    daily_supply.sku,
    daily_supply.supplier_id as factory_supplier_id,
    products.supplier_id as sku_supplier_id
from {{ ref('daily_supply') }} as daily_supply
inner join {{ ref('stg_master__products') }} as products
    on products.sku = daily_supply.sku
where products.supplier_id <> daily_supply.supplier_id
