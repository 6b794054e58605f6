select feed, supplier_id, as_of_day, outcome, reason, version, gate_result, decided_at
from {{ bronze_source('ledger', 'feed_outcomes') }}
