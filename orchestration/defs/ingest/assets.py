"""Bronze assets: one per landing source in sources.yaml, daily facts partitioned by day."""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from orchestration.defs.ingest.metadata import (
    DELIVERIES_ON_TIME,
    deliveries_on_time_check,
    files_matched_check,
    materialization_metadata,
    quarantine_ratio_check,
    rejected_files_check,
)
from orchestration.defs.ingest.partitions import daily_partitions
from orchestration.defs.resources import Lake
from orchestration.lib.deliveries import files_not_read, not_read_report
from orchestration.lib.ingest import ingest_days, ingest_snapshot
from orchestration.lib.progress import DayProgress, stderr_line
from orchestration.lib.sources import Source, load_sources

OWNERS = ["team:data-platform"]


def bronze_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["bronze", source.domain, source.name])


def _check_specs(key: dg.AssetKey, source: Source) -> list[dg.AssetCheckSpec]:
    on_time = (
        [
            dg.AssetCheckSpec(
                DELIVERIES_ON_TIME,
                asset=key,
                description=(
                    f"Every {source.deliverer.removesuffix('_id')} that delivered {source.name} in the last 4 weeks delivered "
                    f"the newest day ingested, by its deadline ({source.deliver_by} {source.timezone} the next day, "
                    "deliver_by in sources.yaml); each late or missing delivery is alerted, naming the supplier and the "
                    "file expected. The supplier_scorecard mart keeps the history."
                ),
            )
        ]
        if source.is_daily and source.deliverer
        else []
    )
    return on_time + [
        dg.AssetCheckSpec(
            "files_readable",
            asset=key,
            description=(
                "Every delivered file of every day in the lake could be read: a day with a file rejected whole "
                "stays failed, naming the file and why, until it is delivered again and ingested."
            ),
        ),
        dg.AssetCheckSpec(
            "files_matched",
            asset=key,
            description="Every file under the source's folder is read by a source; one no pattern matches is named.",
        ),
        dg.AssetCheckSpec(
            "quarantine_ratio",
            asset=key,
            description=(
                "On every day in the lake the share of quarantined rows stays under the source's threshold; "
                "the days over it are listed with their reasons."
            ),
        ),
    ]


def _day_logger(context: dg.AssetExecutionContext, progress: DayProgress):
    """Count each day into the source's progress lines; log days that quarantined something."""

    def on_day(result) -> None:
        progress.day(result.accepted, result.quarantined, len(result.rejected_files))
        if result.quarantined or result.rejected_files:
            context.log.warning(result.summary())

    return on_day


def bronze_asset(source: Source) -> dg.AssetsDefinition:
    """The asset that turns ``landing/<source>/`` into typed ``bronze/<source>/`` Parquet."""
    sources = load_sources()
    key = bronze_key(source)
    where = f"bronze/{source.name}/" + ("day=YYYY-MM-DD/" if source.is_daily else "")

    @dg.asset(
        key=key,
        group_name=source.domain,
        description=f"{source.description} Typed from {source.landing_dir}/ ({source.format}) into {where}.",
        kinds={"parquet", "pyarrow", "duckdb"},
        owners=OWNERS,
        partitions_def=daily_partitions if source.is_daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if source.is_daily else None,
        deps=[bronze_key(sources[entity]) for entity in sorted(source.references)],
        check_specs=_check_specs(key, source),
        metadata={
            "landing": f"{source.landing_dir}/{source.files}",
            "format": source.format,
            "encoding": source.encoding,
            "day_in_file_name": source.day_in_name or "none: each row's business day",
            "natural_key": ", ".join(source.key),
        },
        tags={"domain": source.domain, "layer": "bronze"},
    )
    def _bronze(context: dg.AssetExecutionContext, lake: Lake) -> Iterator:
        store = lake.store()
        not_read = files_not_read(store, sources, source)
        if not_read:
            context.log.warning(not_read_report(source, not_read))
        label = f"{source.domain}/{source.name}"
        if source.is_daily:
            days = [date.fromisoformat(k) for k in context.partition_keys]
            context.log.info(f"{source.name}: ingesting {len(days)} day(s) {days[0]} .. {days[-1]}")
            progress = DayProgress(label, days)
            results = ingest_days(store, source, days, on_day=_day_logger(context, progress))
            context.log.info(progress.finish().strip())
        else:
            snapshot = ingest_snapshot(store, source)
            results = [snapshot]
            context.log.info(snapshot.summary())
            stderr_line(
                f"ingested {label} snapshot: {snapshot.accepted:,} rows accepted, {snapshot.quarantined:,} quarantined"
            )
        yield dg.MaterializeResult(metadata=materialization_metadata(source, results, store.uri(source.bronze_dir)))
        yield rejected_files_check(store, source, results)
        yield files_matched_check(source, not_read)
        yield quarantine_ratio_check(store, source, results)
        if source.is_daily and source.deliverer:
            yield deliveries_on_time_check(store, source, max(r.day for r in results))

    return _bronze


@dg.definitions
def bronze_assets() -> dg.Definitions:
    return dg.Definitions(assets=[bronze_asset(s) for s in load_sources().values()])
