select partner_id, partner_type, region
from {{ bronze_source('master', 'partners') }}
