"""The business-day partitions every daily fact shares."""

import dagster as dg

from orchestration.lib.settings import TIMEZONE_DEFAULT
from orchestration.lib.sources import history_start

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=history_start().isoformat(),
    timezone=TIMEZONE_DEFAULT,
)
