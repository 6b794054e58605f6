select warehouse_id, region
from {{ bronze_source('master', 'warehouses') }}
