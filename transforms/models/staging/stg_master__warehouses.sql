select warehouse_id, region
from {{ source('master', 'warehouses') }}
