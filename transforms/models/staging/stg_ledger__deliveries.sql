select
    source, business_day, file, deliverer_column, deliverer, arrived_at, due_at, file_bytes,
    file_status, file_error, accepted, quarantined, top_reasons
from {{ bronze_source('ledger', 'deliveries') }}
