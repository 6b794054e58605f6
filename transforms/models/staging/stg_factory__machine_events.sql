select factory_id, line_id, event_at, day as event_day, state, reason
from {{ source('factory', 'machine_events') }}
