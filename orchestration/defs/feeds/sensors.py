"""Republish the supplier feeds when the replenishment mart changes."""

import dagster as dg

from orchestration.defs.feeds.assets import FEED_KEY, MART_KEY
from orchestration.defs.feeds.jobs import feeds_job


@dg.sensor(
    name="replenishment_feeds",
    description="After each new materialization of the replenishment mart, one run publishing every supplier's feed.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    job=feeds_job,
)
def replenishment_feeds(context: dg.SensorEvaluationContext):
    """A sensor rather than an automation condition on the feed, so that each materialization
    of the mart is published exactly once: the cursor is the mart's last materialization seen,
    and the run key names it. The run reads the suppliers from master data when it starts, so
    a new supplier gets its feed with no code change; a held supplier fails alone inside the
    run. Off by default, like the landing sensor."""
    records = context.instance.fetch_materializations(MART_KEY, limit=1).records
    if not records:
        return dg.SkipReason("the replenishment mart has not been materialized yet")
    event = records[0]
    if context.cursor and int(context.cursor) >= event.storage_id:
        return dg.SkipReason("no new materialization of the replenishment mart")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=str(event.storage_id), asset_selection=[FEED_KEY], tags={"trigger": "replenishment_feeds"}
            )
        ],
        cursor=str(event.storage_id),
    )
