"""Watch the landing zone: a run for every day whose files are new or replaced."""

import json

import dagster as dg

from orchestration.defs.ingest.assets import bronze_key
from orchestration.defs.ingest.schedules import ingest_job
from orchestration.defs.resources import Lake
from orchestration.lib.landing import SNAPSHOT, bronze_stamps, changes, look
from orchestration.lib.sources import load_sources


@dg.sensor(
    name="landing_files",
    description="Requests a bronze run for each day (or master snapshot) whose landing files are new or changed.",
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
    for change in found:
        keys = [bronze_key(sources[name]) for name in change.sources]
        yield dg.RunRequest(
            run_key=change.run_key,
            partition_key=None if change.partition == SNAPSHOT else change.partition,
            asset_selection=keys,
            tags={"trigger": "landing_files"},
        )
    context.update_cursor(json.dumps(current.versions, sort_keys=True))
    if not found:
        yield dg.SkipReason("no new or changed landing files")
