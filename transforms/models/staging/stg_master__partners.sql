select partner_id, partner_type, region
from {{ source('master', 'partners') }}
