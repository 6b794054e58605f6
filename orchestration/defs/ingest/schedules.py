"""The normal cadence: every night, master data and yesterday's facts; each morning, whether they came."""

import dagster as dg

from orchestration.defs.ingest.checks import data_fresh_key
from orchestration.defs.ingest.partitions import daily_partitions
from orchestration.lib.sources import daily_sources

ingest_job = dg.define_asset_job(
    name="daily_ingest",
    description="Master-data snapshots and one business day of every daily source, landing -> bronze.",
    selection=dg.AssetSelection.groups("master", "factory", "inventory", "sales"),
    partitions_def=daily_partitions,
)

daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    ingest_job, hour_of_day=2, minute_of_hour=0, name="daily_ingest_schedule"
)

freshness_job = dg.define_asset_job(
    name="data_freshness",
    description="Judges each daily source's newest business day in bronze against the day due (check data_fresh).",
    selection=dg.AssetSelection.checks(*(data_fresh_key(s) for s in daily_sources())),
)


def _freshness_schedules() -> list[dg.ScheduleDefinition]:
    """One schedule per deadline (``fresh_by`` and time zone) of the daily sources: the check runs
    when a day becomes due, so the UI says a source is late without waiting for a run. On by
    default: it reads listings and footers, and writes nothing."""
    deadlines = sorted({(s.fresh_by, s.timezone) for s in daily_sources()})
    return [
        dg.ScheduleDefinition(
            name="data_freshness_schedule" + ("" if len(deadlines) == 1 else f"_{i + 1}"),
            job=freshness_job,
            cron_schedule=f"{int(clock[3:])} {int(clock[:2])} * * *",
            execution_timezone=zone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"At {clock} {zone}, when yesterday's data is due: check data_fresh on every daily source.",
        )
        for i, (clock, zone) in enumerate(deadlines)
    ]


@dg.definitions
def ingest_schedules() -> dg.Definitions:
    """This module's jobs and schedules (a module with a definitions function lists all it holds)."""
    return dg.Definitions(jobs=[ingest_job, freshness_job], schedules=[daily_ingest_schedule, *_freshness_schedules()])
