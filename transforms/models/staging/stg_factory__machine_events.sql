select factory_id, line_id, event_at, day as event_day, state, reason
from {{ bronze_source('factory', 'machine_events') }}
