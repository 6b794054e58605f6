-- the business day is the day of the ledger's folder (the file holds it too): a filter on it
-- reads only those days' files
select
    source, day as business_day, file, deliverer_column, deliverer, arrived_at, due_at, file_bytes,
    file_status, file_error, accepted, quarantined, top_reasons
from {{ bronze_source('ledger', 'deliveries') }}
