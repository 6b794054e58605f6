"""The normal cadence: every night, master data and yesterday's facts."""

import dagster as dg

from orchestration.defs.ingest.partitions import daily_partitions

ingest_job = dg.define_asset_job(
    name="daily_ingest",
    description="Master-data snapshots and one business day of every daily source, landing -> bronze.",
    selection=dg.AssetSelection.groups("master", "factory", "inventory", "sales"),
    partitions_def=daily_partitions,
)

daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    ingest_job, hour_of_day=2, minute_of_hour=0, name="daily_ingest_schedule"
)
