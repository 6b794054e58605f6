"""Republish the supplier feeds when the replenishment mart changes."""

import dagster as dg

from orchestration.defs.feeds.assets import FEED_KEY, MART_KEY
from orchestration.defs.feeds.jobs import feeds_job
from orchestration.defs.feeds.partitions import suppliers, suppliers_with_feeds
from orchestration.defs.resources import Lake


@dg.sensor(
    name="replenishment_feeds",
    description="After each new materialization of the replenishment mart, one feed run per supplier in master data.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    job=feeds_job,
)
def replenishment_feeds(context: dg.SensorEvaluationContext, lake: Lake):
    """A sensor rather than an automation condition on the feed: before it asks for the runs it
    registers the suppliers that master data added since (so a new supplier gets its feed with
    no code change), and it asks for every supplier, each in its own run, so one bad feed
    fails alone. The cursor is the mart's last materialization seen; each run key names it, so
    every materialization is published once per supplier. Off by default, like the landing sensor.
    """
    records = context.instance.fetch_materializations(MART_KEY, limit=1).records
    if not records:
        return dg.SkipReason("the replenishment mart has not been materialized yet")
    event = records[0]
    if context.cursor and int(context.cursor) >= event.storage_id:
        return dg.SkipReason("no new materialization of the replenishment mart")
    names = suppliers_with_feeds(lake.store())
    known = set(context.instance.get_dynamic_partitions(suppliers.name))
    new = [s for s in names if s not in known]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{event.storage_id}:{name}",
                partition_key=name,
                asset_selection=[FEED_KEY],
                tags={"trigger": "replenishment_feeds"},
            )
            for name in names
        ],
        dynamic_partitions_requests=[suppliers.build_add_request(new)] if new else [],
        cursor=str(event.storage_id),
    )
