-- the day a feed was computed as of is the day of the ledger's folder (the file holds it too):
-- a filter on it reads only those days' files
select feed, supplier_id, day as as_of_day, outcome, reason, version, gate_result, decided_at
from {{ bronze_source('ledger', 'feed_outcomes') }}
