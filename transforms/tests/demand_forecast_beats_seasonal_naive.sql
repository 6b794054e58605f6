-- The forecast method earns its keep: on the held-out days its overall WAPE is below the
-- seasonal-naive baseline's (same weekday of the last week before the cut-off). A warning, not
-- an error: a miss should reach a person, but must not stop the marts from building.
{{ config(severity='warn') }}
select level, wape, naive_wape
from {{ ref('forecast_backtest') }}
where level = 'overall'
    and (wape is null or naive_wape is null or wape >= naive_wape)
