select factory_id, supplier_id, region, line_count
from {{ source('master', 'factories') }}
