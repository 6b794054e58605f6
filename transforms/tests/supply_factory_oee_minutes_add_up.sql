-- factory_oee's minutes add up and its ratios stay within 0..1:
--   planned = running + changeover + down + idle, shift = planned + planned stops <= 1440.

select *
from {{ ref('factory_oee') }}
where abs(planned_minutes - (running_minutes + changeover_minutes + down_minutes + idle_minutes)) > 0.001
    or abs(shift_minutes - (planned_minutes + planned_stop_minutes)) > 0.001
    or shift_minutes > 1440.001
    or availability not between 0 and 1
    or performance not between 0 and 1
    or quality not between 0 and 1
    or oee not between 0 and 1
