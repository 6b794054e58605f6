"""The normal cadence: every night, master data and yesterday's facts; each morning, whether they came.

The unit of an ingestion run is one source and one day (or one master-data snapshot): the
nightly schedule and the ``landing_files`` sensor request a run per unit, so sources and days
ingest side by side, each run a Fargate task of its own in the cloud. Each run carries its
source (``supplyloop/source``) and day (``dagster/partition``) as tags, which the cloud's run
launcher copies onto its task, and by which the cloud instance caps how many ingestion runs
go at once (``tag_concurrency_limits`` in infra/dagster.yaml).
"""

from collections.abc import Iterable, Iterator

import dagster as dg

from orchestration.defs.ingest.assets import bronze_key
from orchestration.defs.ingest.checks import data_fresh_key
from orchestration.defs.ingest.partitions import daily_partitions
from orchestration.defs.resources import Lake
from orchestration.lib.landing import SNAPSHOT, bronze_stamps, changes, look
from orchestration.lib.sources import Source, daily_sources, load_sources

SOURCE_TAG = "supplyloop/source"
TRIGGER_TAG = "trigger"

ingest_job = dg.define_asset_job(
    name="daily_ingest",
    description=(
        "Master-data snapshots and business days of the daily sources, landing -> bronze; the schedule and the "
        "landing sensor start one run per source and day."
    ),
    selection=dg.AssetSelection.groups("master", "factory", "inventory", "sales"),
    partitions_def=daily_partitions,
)


def run_units(names: Iterable[str], sources: dict[str, Source]) -> list[tuple[str, ...]]:
    """Sources to ingest, as runs: one per source, except that a source goes in the run of the
    master data it refers to when that is to be ingested too (products and factories name
    suppliers, order lines name products), so that its rows are checked against the new
    snapshot, not the old: in one run Dagster ingests the master data first."""
    names = sorted(set(names))
    group = {name: {name} for name in names}
    for name in names:
        for entity in sources[name].references & set(names):
            merged = group[name] | group[entity]
            for member in merged:
                group[member] = merged
    return sorted({tuple(sorted(g)) for g in group.values()})


def unit_request(names: tuple[str, ...], partition: str, version: str, trigger: str, sources: dict[str, Source]):
    """The run of one unit: a source's day, or master-data snapshots (``partition`` "snapshot").

    The run key names the sources, the partition and the version of their deliveries, so each
    version of a unit runs once however often it is asked for."""
    return dg.RunRequest(
        run_key=f"{'+'.join(names)}:{partition}:{version}",
        partition_key=None if partition == SNAPSHOT else partition,
        asset_selection=[bronze_key(sources[name]) for name in names],
        tags={SOURCE_TAG: "+".join(names), TRIGGER_TAG: trigger},
    )


def nightly_requests(lake: Lake, day: str) -> Iterator[dg.RunRequest]:
    """Yesterday's runs: one per daily source, delivered or not (a day without files is ingested
    empty, and its deliveries checked: a missing delivery is alerted), and one per master-data
    snapshot delivered since it was last ingested, which the daily sources that refer to it join."""
    sources = load_sources()
    store = lake.store()
    state = look(store, list(sources.values()))
    masters = [s for s in sources.values() if not s.is_daily]
    # a snapshot counts as delivered since its last run when bronze was not written after it
    pending = [
        name for c in changes({}, state, bronze_stamps(store, masters)) if c.partition == SNAPSHOT for name in c.sources
    ]
    for names in run_units([*pending, *(s.name for s in daily_sources())], sources):
        partition = day if any(sources[name].is_daily for name in names) else SNAPSHOT
        version = "+".join(
            state.versions.get(name, {}).get(day if sources[name].is_daily else SNAPSHOT, "none") for name in names
        )
        yield unit_request(names, partition, version, "daily_ingest_schedule", sources)


@dg.schedule(
    name="daily_ingest_schedule",
    cron_schedule=daily_partitions.get_cron_schedule(minute_of_hour=0, hour_of_day=2),
    execution_timezone=daily_partitions.timezone,
    job=ingest_job,
    description=(
        "At 02:00, a run per daily source for yesterday, and one per master-data snapshot delivered since its last "
        "run (with the daily sources that refer to it)."
    ),
)
def daily_ingest_schedule(context: dg.ScheduleEvaluationContext, lake: Lake):
    with dg.partition_loading_context(effective_dt=context.scheduled_execution_time):
        day = daily_partitions.get_last_partition_key()
    if day is None:
        yield dg.SkipReason("the daily partitions offer no day yet")
        return
    yield from nightly_requests(lake, day)


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
