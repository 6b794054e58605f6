-- a table, not a view: factory_oee and several tests read it, and it is costly to derive
{{ config(materialized='table') }}
-- One row per factory and production line: the line's ideal rate, the units per hour it
-- makes when it runs well, estimated from its own history as the 95th percentile of the
-- units (good + scrap) of every hour it reported output. The top 5 % of hours are left out
-- as lucky ones; the partial hours at the end of a work order are in the lower tail anyway.
-- Estimated over the last 365 days of the history (one rate per line, not per day): what the
-- line does now, after any rebuild or retooling, and a cost that does not grow with the
-- history (only that year's output files are read).

with

hourly_output as (
    select
        factory_id,
        line_id,
        produced_at,
        sum(qty_good + qty_scrap) as units_made
    from {{ ref('stg_factory__production_output') }}
    where {{ in_trailing_days('production_day', 365) }}
    group by factory_id, line_id, produced_at
)

select
    factory_id,
    line_id,
    cast({{ supply_percentile('units_made', 0.95) }} as double) as ideal_units_per_hour,
    count(*) as hours_observed
from hourly_output
where units_made > 0
group by factory_id, line_id
