"""The supply-demand marts: the dbt project in transforms/, built on the bronze lake."""

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import redirect_stdout
from typing import Any

import dagster as dg
import duckdb
import pyarrow.parquet as pq
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.ingest.assets import OWNERS
from orchestration.defs.resources import Lake
from orchestration.defs.transform.project import ensure_manifest, models_fingerprint, transforms
from orchestration.lib import mart_reports as reports
from orchestration.lib.coverage import Coverage, absent_sources, plan_coverage, read_project
from orchestration.lib.landing import bronze_stamps
from orchestration.lib.progress import CONSOLE_COMPACT, CONSOLE_TAG, DbtProgress, TextLog
from orchestration.lib.settings import override_environment
from orchestration.lib.sources import canonical_sources, load_sources
from orchestration.lib.warehouse import BuildPlan, Warehouse

LAYERS = ("staging", "intermediate", "marts")


def _partitioned_marts(manifest: dict) -> dict[str, str]:
    """Marts built by day (``meta.day_column`` in their dbt config), stored a file a day in the lake."""
    nodes = manifest["nodes"].values()
    return {
        n["name"]: n["config"]["meta"]["day_column"]
        for n in nodes
        if n["resource_type"] == "model" and n["schema"] == "marts" and n["config"].get("meta", {}).get("day_column")
    }


MANIFEST = ensure_manifest()
_MANIFEST_JSON = json.loads(MANIFEST.read_text())
PARTITIONED_MARTS = _partitioned_marts(_MANIFEST_JSON)
# what each model needs of the sources, to skip what a platform's deliveries cannot build
PROJECT = read_project(_MANIFEST_JSON)
del _MANIFEST_JSON


class LakeTranslator(DagsterDbtTranslator):
    """dbt sources are the bronze assets; models are keyed by layer, as they are stored."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["bronze", dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([self._layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return self._layer(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        # new bronze days (or a new snapshot) rebuild the marts, once the upstream run is done
        return dg.AutomationCondition.eager()

    @staticmethod
    def _layer(props: Mapping[str, Any]) -> str:
        schema = props.get("config", {}).get("schema") or props.get("schema")
        return schema if schema in LAYERS else "transform"


def _mart_metadata(warehouse: Warehouse, exported: dict[str, int], published: str) -> dict[str, dict]:
    """Per mart: rows, where it is, a preview; the forecast's backtest; the balance picture; the
    suppliers' deliveries; the lot marts' units per allocation."""
    with duckdb.connect(str(warehouse.build_path), read_only=True) as con:
        extra = {
            name: {
                "dagster/row_count": rows,
                "parquet": dg.MetadataValue.path(warehouse.store.uri(f"marts/{name}/")),
                "warehouse": dg.MetadataValue.path(published),
                "preview": dg.MetadataValue.md(reports.preview(con, name)),
            }
            for name, rows in exported.items()
        }
        trust = reports.backtest(con)
        picture = reports.balance_picture(con)
        scorecard = reports.scorecard_picture(con)
        for name in ("stock_lot_allocations", "lot_recipients"):
            allocation = reports.lot_allocation(con, name) if name in extra else ""
            if allocation:
                extra[name]["units_by_allocation"] = dg.MetadataValue.md(allocation)
    for name in ("demand_forecast", "forecast_backtest"):
        if name in extra:
            extra[name].update(trust)
    if "supply_demand_balance" in extra and picture:
        extra["supply_demand_balance"]["top_skus_by_week"] = dg.MetadataValue.md(picture)
    if "supplier_scorecard" in extra and scorecard:
        extra["supplier_scorecard"]["deliveries_by_supplier"] = dg.MetadataValue.md(scorecard)
    return extra


def _coverage_metadata(coverage: Coverage, mart: str) -> dict:
    """On a built mart, when sources are missing: which, and the mart's columns they leave empty."""
    if coverage.complete:
        return {}
    metadata = {"sources_not_delivered": ", ".join(coverage.absent)}
    columns = coverage.empty_columns(mart)
    if columns:
        rows = "\n".join(f"| {column} | {', '.join(sources)} |" for column, sources in columns.items())
        metadata["columns_without_their_sources"] = dg.MetadataValue.md(
            "| column | computed without |\n| --- | --- |\n" + rows
        )
    return metadata


def _skipped_observations(coverage: Coverage) -> Iterator[dg.AssetObservation]:
    """One observation per mart the platform's sources cannot build, saying why."""
    for mart, reason in coverage.skipped_marts.items():
        yield dg.AssetObservation(
            asset_key=dg.AssetKey(["marts", mart]),
            metadata={"skipped": reason, "sources_not_delivered": ", ".join(coverage.absent)},
        )


def _models_selected(context: dg.AssetExecutionContext, coverage: Coverage) -> int:
    """How many models this build runs: those of the run's selection less the ones skipped."""
    keys = context.selected_asset_keys
    return sum(
        1
        for name, model in PROJECT.models.items()
        if name not in coverage.skipped
        and dg.AssetKey([model.schema if model.schema in LAYERS else "transform", name]) in keys
    )


def _exported_rows(warehouse: Warehouse, plan: BuildPlan):
    """A mart's rows as dbt exported them to Parquet right after building it (its post-hook):
    every row in a full build; an incremental one exports the days of its window onward."""

    def detail(schema: str, name: str) -> str | None:
        if schema != "marts":
            return None
        single = warehouse.export_dir / f"{name}.parquet"
        files = [single] if single.exists() else sorted((warehouse.export_dir / name).glob("day=*/*.parquet"))
        if not files:
            return None
        rows = sum(pq.read_metadata(f).num_rows for f in files)
        days = (
            f" in the {len(files)} day{'s' if len(files) != 1 else ''} exported"
            if not plan.full and not single.exists()
            else ""
        )
        return f"{rows:,} rows{days}"

    return detail


def _stream(
    context: dg.AssetExecutionContext, invocation, warehouse: Warehouse, plan: BuildPlan, coverage: Coverage
) -> list:
    """dbt's events as Dagster's. Meanwhile a line per model, each test that did not pass and a
    summary go to stderr, and dbt's full output to a log file beside the build, and to stdout
    (the run's compute logs) too unless the run asks for compact output (``supplyloop run``)."""
    log_path = warehouse.new_build_log(context.run.run_id)
    compact = context.run.tags.get(CONSOLE_TAG) == CONSOLE_COMPACT
    progress = DbtProgress(_models_selected(context, coverage), log_path, detail=_exported_rows(warehouse, plan))
    events = []
    # dagster-dbt writes each of dbt's lines to stdout: here into the log
    with TextLog(log_path, echo=None if compact else sys.stdout) as log, redirect_stdout(log):
        for message in invocation.stream_raw_events():
            progress.event(message.raw_event)
            events += message.to_default_asset_events(
                manifest=invocation.manifest,
                dagster_dbt_translator=invocation.dagster_dbt_translator,
                context=context,
                target_path=invocation.target_path,
                project=invocation.project,
            )
    context.log.info(progress.summary())
    return events


@dbt_assets(
    manifest=MANIFEST,
    project=transforms,
    dagster_dbt_translator=LakeTranslator(),
    pool="warehouse",
)
def supply_demand_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: Lake):
    """Build staging, intermediate and marts with `dbt build`; when it passes, publish them for BI and as Parquet."""
    store = lake.store()
    warehouse = Warehouse(store)
    # one build of a lake's warehouse at a time, even from two Dagster instances (a lock in the lake)
    with warehouse.lock(context.run_id, say=context.log.warning):
        yield from _build(context, dbt, store, warehouse)


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, store, warehouse: Warehouse):
    warehouse.prepare(say=context.log.warning)
    bronze = bronze_stamps(store, list(load_sources().values()))
    # a platform may deliver only some sources: what needs a missing one is skipped, with why
    coverage = plan_coverage(PROJECT, absent_sources(store, load_sources(), canonical_sources()))
    for line in coverage.lines():
        context.log.warning(line)
    models = coverage.fingerprint(models_fingerprint())
    plan = warehouse.plan(bronze, models)
    context.log.info("full build" if plan.full else f"incremental build of {len(plan.days)} changed day(s)")
    if plan.full:
        warehouse.start_over()
    # dbt's log file at info, not debug: the SQL each node ran is in the target folder anyway,
    # and writing every statement again into the log costs 0.5-1 s a build (DBT_LOG_LEVEL_FILE=debug
    # brings it back)
    log_level = {"DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info")}
    # each mart's Parquet is written by dbt as soon as the mart is built, while it builds the
    # others (transforms/macros/export_mart.sql), and moved into the lake once the build passed
    export = warehouse.export_env(plan)
    with override_environment({**log_level, **warehouse.dbt_env(), **plan.dbt_env(), **coverage.dbt_env(), **export}):
        invocation = dbt.cli(
            [*plan.dbt_args(), *coverage.dbt_args()],
            context=context,
            raise_on_error=False,
            target_path=warehouse.dbt_target_path,
        )
        events = _stream(context, invocation, warehouse, plan, coverage)
    if not invocation.is_successful():
        # a failed build publishes nothing: BI tools and Parquet readers keep the last good marts
        warehouse.discard_export()
        yield from events
        raise dg.Failure(
            f"dbt build failed, so the published warehouse and marts are unchanged: {invocation.get_error()}"
        )
    exported = warehouse.publish_marts(PARTITIONED_MARTS, plan, dropped=list(coverage.skipped_marts))
    published = warehouse.publish()
    kept = warehouse.record(bronze, models)  # once published: a build killed before is redone
    if kept:
        context.log.info(f"the build kept in the lake: {kept / 1e6:.1f} MB of its blocks sent")
    context.log.info(f"published {published}; marts as Parquet: {json.dumps(exported)}")
    extra = _mart_metadata(warehouse, exported, published)
    for event in events:
        if isinstance(event, dg.Output):
            # the output's metadata holds MetadataValue objects: the id is the text inside
            unique_id = event.metadata.get("unique_id")
            name = str(getattr(unique_id, "value", unique_id) or "").rsplit(".", 1)[-1]
            if name in extra:
                event = event.with_metadata({**event.metadata, **extra[name], **_coverage_metadata(coverage, name)})
        yield event
    yield from _skipped_observations(coverage)
