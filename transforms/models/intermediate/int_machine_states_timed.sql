{{ config(
    materialized='incremental',
    incremental_strategy={'athena': 'merge', 'spark': 'append'}.get(target.type, 'delete+insert'),
    unique_key=['factory_id', 'line_id', 'production_day', 'started_at'],
    pre_hook="{{ clear_build_window('production_day', onward=true) }}",
    on_schema_change='fail',
) }}
-- a table (built by day), not a view: factory_oee and several tests read it, and it is costly
-- to derive
-- One row per production line, local day and stretch of one machine state.
-- A line stays in a state from its state change until its next change; a stretch that
-- crosses midnight (Asia/Shanghai) is cut there, so each piece belongs to one day.
-- The last state of a line lasts until the end of the newest day the MES reported.
-- time_category sorts the minutes for OEE:
--   off_shift     idle / shift_end: outside the shifts (00:00-08:00), not planned time
--   planned_stop  idle / holiday and down / planned_maintenance: inside the shift, planned off
--   running, changeover, down (unplanned), idle (no work order, material shortage): planned time
-- An incremental build redoes the days from the first rebuilt one on (a stretch runs on into
-- the days after it). It reads the state changes of those days, and starts each line in the
-- state it was in at that midnight: the stretch of its last piece before, which it rebuilds
-- whole (the pieces before are replaced by key), because that stretch's end may have moved.
{%- set longest_stretch_days = 366 %}

with

state_changes as (
    select
        factory_id,
        line_id,
        state,
        reason,
        {{ supply_local_time('event_at') }} as changed_at
    from {{ ref('stg_factory__machine_events') }}
    {%- if is_incremental() %}
    where {{ in_build_window('event_day', days_before=1, onward=true) }}
        and {{ supply_local_time('event_at') }} >= cast({{ build_window_start() }} as {{ dbt.type_timestamp() }})

    union all

    -- the stretch each line was in when the rebuilt days began
    select kept.factory_id, kept.line_id, kept.state, kept.reason, kept.stretch_started_at as changed_at
    from {{ this }} as kept
    inner join (
        select factory_id, line_id, max(stretch_started_at) as stretch_started_at
        from {{ this }}
        where production_day < {{ build_window_start() }}
        group by factory_id, line_id
    ) as last_kept
        on last_kept.factory_id = kept.factory_id
        and last_kept.line_id = kept.line_id
        and last_kept.stretch_started_at = kept.stretch_started_at
    group by kept.factory_id, kept.line_id, kept.state, kept.reason, kept.stretch_started_at
    {%- endif %}
),

reporting_horizon as (
    -- the end (next local midnight) of the newest day with any state change
    select
        {{ dbt.dateadd('day', 1, dbt.date_trunc('day', 'max(changed_at)')) }} as horizon_end
    from state_changes
),

state_stretches as (
    select
        state_changes.factory_id,
        state_changes.line_id,
        state_changes.state,
        state_changes.reason,
        state_changes.changed_at as stretch_started_at,
        coalesce(
            lead(state_changes.changed_at) over (
                partition by state_changes.factory_id, state_changes.line_id
                order by state_changes.changed_at
            ),
            reporting_horizon.horizon_end
        ) as stretch_ended_at
    from state_changes
    cross join reporting_horizon
),

days_after_start as (
    -- 0, 1, 2, ...: the days a stretch touches after the day it started on
    select generated_number - 1 as days_after
    from ({{ dbt.generate_series(longest_stretch_days) }}) as day_numbers
),

stretch_days as (
    select
        state_stretches.*,
        {{ dbt.dateadd(
            'day',
            'days_after_start.days_after',
            dbt.date_trunc('day', 'state_stretches.stretch_started_at')
        ) }} as day_started_at
    from state_stretches
    inner join days_after_start
        on days_after_start.days_after
            <= {{ dbt.datediff('state_stretches.stretch_started_at', 'state_stretches.stretch_ended_at', 'day') }}
),

pieces_within_day as (
    select
        factory_id,
        line_id,
        cast(day_started_at as date) as production_day,
        state,
        reason,
        greatest(stretch_started_at, day_started_at) as started_at,
        least(stretch_ended_at, {{ dbt.dateadd('day', 1, 'day_started_at') }}) as ended_at,
        stretch_started_at,
        stretch_ended_at
    from stretch_days
)

select
    factory_id,
    line_id,
    production_day,
    state,
    reason,
    case
        when state = 'idle' and reason = 'shift_end' then 'off_shift'
        when state = 'idle' and reason = 'holiday' then 'planned_stop'
        when state = 'down' and reason = 'planned_maintenance' then 'planned_stop'
        else state
    end as time_category,
    started_at,
    ended_at,
    cast({{ dbt.datediff('started_at', 'ended_at', 'second') }} as double) / 60 as minutes,
    stretch_started_at,
    stretch_ended_at
from pieces_within_day
-- a stretch ending exactly at midnight touches the next day for no time at all
where ended_at > started_at
