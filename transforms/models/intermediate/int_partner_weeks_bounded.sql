-- One row: the latest complete week of order lines (Monday to Sunday, the Sunday on or before
-- the last order day in the data) and the 28 days ending on that Sunday. The partner marts
-- are all computed for this week, so a partner's figures and its peers' cover the same days.
with

last_history_day as (
    select max(order_day) as last_day from {{ ref('int_partner_days_summed') }}
),

week_end as (
    -- ISO weekday 7 (Sunday) stays; Monday..Saturday go back to the Sunday before
    select {{ demand_add_days('-(' ~ demand_day_of_week('last_day') ~ ' % 7)', 'last_day') }} as week_end_day
    from last_history_day
    where last_day is not null
)

select
    {{ demand_add_days(-6, 'week_end_day') }} as week_start_day,
    week_end_day,
    {{ demand_add_days(-27, 'week_end_day') }} as trailing_start_day
from week_end
