select supplier_id, name as supplier_name, region
from {{ source('master', 'suppliers') }}
