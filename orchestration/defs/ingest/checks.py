"""Freshness on the data's day: each daily source's newest business day in bronze against the one due."""

import dagster as dg

from orchestration.defs.ingest.assets import bronze_key
from orchestration.defs.resources import Lake
from orchestration.lib.freshness import judge_freshness
from orchestration.lib.sources import Source, daily_sources

DATA_FRESH = "data_fresh"


def data_fresh_key(source: Source) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(bronze_key(source), DATA_FRESH)


def data_fresh_check(source: Source) -> dg.AssetChecksDefinition:
    """The check that the source's newest day with rows is the day due (yesterday, by ``fresh_by``)."""

    @dg.asset_check(
        asset=bronze_key(source),
        name=DATA_FRESH,
        description=(
            f"The newest business day in bronze holds rows for yesterday ({source.timezone}) by {source.fresh_by} "
            "(fresh_by in sources.yaml): judged on the data's day, not on when a run last wrote. Runs with every "
            "ingestion and on the data_freshness schedule."
        ),
    )
    def _data_fresh(lake: Lake) -> dg.AssetCheckResult:
        found = judge_freshness(lake.store(), source)
        return dg.AssetCheckResult(
            passed=found.fresh,
            severity=dg.AssetCheckSeverity.WARN,
            description=found.describe(),
            metadata={
                "newest_day": str(found.newest or "none"),
                "expected_day": str(found.expected),
                "days_behind": found.days_behind if found.days_behind is not None else -1,
                "deadline": found.deadline,
                "judged_at": dg.MetadataValue.timestamp(found.judged_at),
            },
        )

    return _data_fresh


@dg.definitions
def freshness_checks() -> dg.Definitions:
    return dg.Definitions(asset_checks=[data_fresh_check(s) for s in daily_sources()])
