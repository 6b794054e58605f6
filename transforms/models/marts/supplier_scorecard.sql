{{ config(materialized='table') }}
-- One row per supplier, factory, source and business day of the trailing window (91 days up
-- to the newest day the source delivered): did the deliverer's rows come, how late against
-- the deadline (deliver_by in sources.yaml), how many were quarantined and why, and what
-- became of the supplier's feed computed as of that day. Built from the deliveries ledger the
-- ingestion writes (bronze/_deliveries) and the feeds' outcomes (bronze/_feed_outcomes), a
-- file per source and day: a build reads the ledger's last 182 days (twice the window) and no
-- older file, so its cost does not grow with the lake's history.
-- Only sources whose rows name their deliverer (a factory or a supplier, by the contract's
-- references) are scored. A factory is expected every day from the first day it delivered the
-- source in those 182 days (one silent for longer is no longer expected): missing when nothing
-- of its came and it delivers files of its own, or, for one that shares an export with others,
-- when no such shared file came; no_rows when the day's shared file held none of its rows,
-- which is no lapse (a line that did not run reports nothing).
{% set window_days = 91 %}
{% set lookback_days = 2 * window_days %}

with

ledger as (
    select *
    from {{ ref('stg_ledger__deliveries') }}
    where deliverer_column in ('factory_id', 'supplier_id')
        and {{ in_trailing_days('business_day', lookback_days) }}
),

newest as (
    select source, max(business_day) as last_day
    from ledger
    group by source
),

window_days as (
    select
        newest.source,
        {{ demand_add_days('1 - offsets.generated_number', 'newest.last_day') }} as business_day
    from newest
    cross join ({{ dbt.generate_series(window_days) }}) as offsets
),

factories as (
    select factory_id, supplier_id
    from {{ ref('stg_master__factories') }}
),

attributed as (
    select
        ledger.source,
        ledger.business_day,
        ledger.file,
        ledger.arrived_at,
        ledger.due_at,
        ledger.accepted,
        ledger.quarantined,
        ledger.top_reasons,
        ledger.file_status,
        case when ledger.deliverer_column = 'factory_id' then factories.supplier_id else ledger.deliverer end
            as supplier_id,
        case when ledger.deliverer_column = 'factory_id' then ledger.deliverer end as factory_id,
        ledger.deliverer
    from ledger
    left join factories
        on ledger.deliverer_column = 'factory_id'
        and factories.factory_id = ledger.deliverer
),

-- a file that carries one deliverer's rows only is that deliverer's own file
file_deliverers as (
    select source, business_day, file, count(distinct deliverer) as deliverers, max(deliverer) as one_deliverer
    from ledger
    group by source, business_day, file
),

first_delivery as (
    select
        attributed.source,
        attributed.deliverer,
        attributed.supplier_id,
        attributed.factory_id,
        min(attributed.business_day) as first_day,
        min(case when file_deliverers.deliverers = 1 then 1 else 0 end) = 1 as own_files
    from attributed
    inner join file_deliverers
        on file_deliverers.source = attributed.source
        and file_deliverers.business_day = attributed.business_day
        and file_deliverers.file = attributed.file
    where attributed.accepted > 0 and attributed.supplier_id is not null
    group by attributed.source, attributed.deliverer, attributed.supplier_id, attributed.factory_id
),

-- did a file come that day other than the own files of deliverers that have them (an export
-- shared by several, or one that names no deliverer)?
shared_days as (
    select
        file_deliverers.source,
        file_deliverers.business_day,
        max(case when file_deliverers.deliverers = 1 and first_delivery.own_files then 0 else 1 end) as shared_file_came
    from file_deliverers
    left join first_delivery
        on first_delivery.source = file_deliverers.source
        and first_delivery.deliverer = file_deliverers.one_deliverer
    group by file_deliverers.source, file_deliverers.business_day
),

expected as (
    select
        first_delivery.source,
        window_days.business_day,
        first_delivery.supplier_id,
        first_delivery.factory_id,
        first_delivery.own_files
    from first_delivery
    inner join window_days
        on window_days.source = first_delivery.source
        and window_days.business_day >= first_delivery.first_day
),

delivered as (
    select
        attributed.source,
        attributed.business_day,
        attributed.supplier_id,
        attributed.factory_id,
        count(distinct attributed.file) as files,
        max(attributed.arrived_at) as arrived_at,
        cast(sum(attributed.accepted) as bigint) as accepted_rows,
        cast(sum(attributed.quarantined) as bigint) as quarantined_rows,
        max_by(attributed.top_reasons, attributed.quarantined) as top_reasons
    from attributed
    inner join window_days
        on window_days.source = attributed.source
        and window_days.business_day = attributed.business_day
    where attributed.supplier_id is not null
    group by attributed.source, attributed.business_day, attributed.supplier_id, attributed.factory_id
),

deadlines as (
    select source, business_day, max(due_at) as due_at
    from ledger
    group by source, business_day
),

-- the feeds' outcomes of the days before the newest delivered one: the feeds of the newest day
-- run after this build, so a build on unchanged data shows the same outcomes as the last one
outcomes as (
    select supplier_id, as_of_day, outcome, reason
    from {{ ref('stg_ledger__feed_outcomes') }}
    where as_of_day < (
            select max(business_day) from {{ ref('stg_ledger__deliveries') }}
            where {{ in_trailing_days('business_day', lookback_days) }}
        )
        and {{ in_trailing_days('as_of_day', lookback_days) }}
),

scored as (
    select
        coalesce(delivered.supplier_id, expected.supplier_id) as supplier_id,
        coalesce(delivered.factory_id, expected.factory_id) as factory_id,
        coalesce(delivered.source, expected.source) as source,
        coalesce(delivered.business_day, expected.business_day) as business_day,
        coalesce(delivered.files, 0) as files,
        delivered.arrived_at,
        coalesce(delivered.accepted_rows, 0) as accepted_rows,
        coalesce(delivered.quarantined_rows, 0) as quarantined_rows,
        delivered.top_reasons,
        coalesce(expected.own_files, false) as own_files
    from expected
    full outer join delivered
        on delivered.source = expected.source
        and delivered.business_day = expected.business_day
        and delivered.supplier_id = expected.supplier_id
        and coalesce(delivered.factory_id, '') = coalesce(expected.factory_id, '')
)

select
    scored.supplier_id,
    scored.factory_id,
    scored.source,
    scored.business_day,
    case
        -- nothing of the deliverer's came: missing when it delivers files of its own, or when no
        -- file of the source came that day; else the day's shared file held none of its rows
        when scored.accepted_rows = 0 and scored.quarantined_rows = 0
            and (scored.own_files or coalesce(shared_days.shared_file_came, 0) = 0)
            then 'missing'
        when scored.accepted_rows = 0 and scored.quarantined_rows = 0 then 'no_rows'
        when scored.accepted_rows = 0 then 'rejected'
        when scored.arrived_at > deadlines.due_at then 'late'
        else 'on_time'
    end as delivery_status,
    scored.files,
    scored.arrived_at,
    deadlines.due_at,
    case
        when scored.arrived_at > deadlines.due_at
            then cast({{ minutes_between('deadlines.due_at', 'scored.arrived_at') }} as bigint)
        when scored.arrived_at is not null then cast(0 as bigint)
    end as minutes_late,
    scored.accepted_rows,
    scored.quarantined_rows,
    {{ supply_ratio('scored.quarantined_rows', 'scored.accepted_rows + scored.quarantined_rows') }} as quarantine_ratio,
    scored.top_reasons,
    outcomes.outcome as feed_outcome,
    outcomes.reason as feed_reason
from scored
left join deadlines
    on deadlines.source = scored.source
    and deadlines.business_day = scored.business_day
left join shared_days
    on shared_days.source = scored.source
    and shared_days.business_day = scored.business_day
left join outcomes
    on outcomes.supplier_id = scored.supplier_id
    and outcomes.as_of_day = scored.business_day
