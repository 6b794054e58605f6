"""Freshness: yesterday's partition of every daily fact is in bronze by 09:00 local time."""

import dagster as dg

from orchestration.defs.ingest.assets import bronze_key
from orchestration.lib.settings import TIMEZONE_DEFAULT
from orchestration.lib.sources import daily_sources

freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[bronze_key(s) for s in daily_sources()],
    deadline_cron="0 9 * * *",
    timezone=TIMEZONE_DEFAULT,
    severity=dg.AssetCheckSeverity.WARN,
)
