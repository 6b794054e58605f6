select live_session_id, partner_id, started_at, ended_at, day as session_day, peak_viewers
from {{ bronze_source('sales', 'live_sessions') }}
