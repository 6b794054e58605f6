"""Watch the landing zone: a run for every source and day whose files are new or replaced."""

import json

import dagster as dg

from orchestration.defs.ingest.partitions import daily_partitions
from orchestration.defs.ingest.schedules import ingest_job, run_units, unit_request
from orchestration.defs.resources import Lake
from orchestration.lib.landing import SNAPSHOT, bronze_stamps, changes, look
from orchestration.lib.sources import load_sources


@dg.sensor(
    name="landing_files",
    description=(
        "Requests a bronze run for each source and day (or master snapshot) whose landing files are new or changed."
    ),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    job=ingest_job,
)
def landing_files(context: dg.SensorEvaluationContext, lake: Lake):
    sources = load_sources()
    store = lake.store()
    previous = json.loads(context.cursor) if context.cursor else {}
    current = look(store, list(sources.values()))
    found = changes(previous, current, bronze_stamps(store, list(sources.values())))
    first, last = daily_partitions.get_first_partition_key(), daily_partitions.get_last_partition_key()
    waiting = [c for c in found if c.partition != SNAPSHOT and not first <= c.partition <= last]
    for outside in waiting:
        # no partition (yet): not requested, and left out of the cursor, so that it is requested once
        # the day is over, or once the code location reloads with its start at the first day delivered
        context.log.warning(
            f"landing files for {outside.partition} ({', '.join(outside.sources)}) lie outside the days the daily "
            f"partitions offer ({first} .. {last}): a day still under way is ingested once it is over; for a day "
            "before the first, reload the code location (it starts at the first day delivered) or set SUPPLYLOOP_FIRST_DAY"
        )
        for name in outside.sources:
            current.versions[name].pop(outside.partition, None)
            if outside.partition in previous.get(name, {}):
                current.versions[name][outside.partition] = previous[name][outside.partition]
        found.remove(outside)
    for change in found:
        # a run per source of the day; master snapshots with the master data they refer to
        for names in run_units(change.sources, sources):
            version = "+".join(current.versions[name][change.partition] for name in names)
            yield unit_request(names, change.partition, version, "landing_files", sources)
    context.update_cursor(json.dumps(current.versions, sort_keys=True))
    if not found:
        days = ", ".join(c.partition for c in waiting)
        yield dg.SkipReason(
            "no new or changed landing files"
            + (f"; files for {days} wait: no daily partition offers those days ({first} .. {last})" if waiting else "")
        )
