-- Cutting machine states at midnight keeps every minute: the pieces of each stretch add up
-- to the whole stretch (a stretch longer than the model's 366-day bound would not).

with

pieces_per_stretch as (
    select
        factory_id,
        line_id,
        stretch_started_at,
        stretch_ended_at,
        sum(minutes) as piece_minutes
    from {{ ref('int_machine_states_timed') }}
    group by factory_id, line_id, stretch_started_at, stretch_ended_at
)

select *
from pieces_per_stretch
where abs(
    piece_minutes
    - cast({{ dbt.datediff('stretch_started_at', 'stretch_ended_at', 'second') }} as double) / 60
) > 0.001
