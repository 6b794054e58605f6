select supplier_id, name as supplier_name, region
from {{ bronze_source('master', 'suppliers') }}
