select factory_id, supplier_id, region, line_count
from {{ bronze_source('master', 'factories') }}
