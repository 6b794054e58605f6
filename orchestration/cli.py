"""`supplyloop`: generate demo data, run the whole loop on the lake, show what is there.

supplyloop demo --preset small [--faults]    write demo deliveries into <lake>/landing/
supplyloop run [--preset small] [--fresh]    demo data if the landing zone is empty, then every asset
supplyloop summary                           what bronze and quarantine hold, per entity
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import load_sources


def _demo(store: LakeStore, preset: str, seed: int, faults: bool, order_lines: int | None) -> None:
    from orchestration.lib.demo import generate

    started = time.perf_counter()
    result = generate(store, preset=preset, seed=seed, faults=faults, order_lines=order_lines, progress=True)
    clean = result.truth["clean"]
    print(
        f"demo: {len(result.files)} files, {clean['order_lines']['rows']:,} order lines "
        f"({result.truth['start']} .. {result.truth['end']}) in {time.perf_counter() - started:.1f}s "
        f"-> {store.uri('landing')}",
        file=sys.stderr,
    )


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _landing_days(store: LakeStore) -> list[date]:
    days = set()
    for source in load_sources().values():
        if source.is_daily:
            days.update(
                d for d in (source.day_of(f.name) for f in store.list_files(source.landing_dir, source.files)) if d
            )
    return sorted(days)


def materialize_all(store: LakeStore, instance=None) -> list:
    """Every asset of the code location on this lake: master snapshots, then all landed days
    in one run, the marts, then each supplier's feed in its own run (so one bad feed fails
    alone). Returns the Dagster results, one per run, recorded in ``instance``."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import Lake

    days = _landing_days(store)
    instance = instance or dg.DagsterInstance.get()
    resources = {**(defs.resources or {}), "lake": Lake(root=store.root)}
    assets = [*(defs.assets or []), *(defs.asset_checks or [])]

    def run(label: str, selection, tags: dict | None = None, partition_key: str | None = None):
        started = time.perf_counter()
        print(f"materializing {label} ...", file=sys.stderr)
        result = dg.materialize(
            assets,
            selection=selection,
            instance=instance,
            resources=resources,
            tags=tags,
            partition_key=partition_key,
            raise_on_error=False,
            run_config=QUIET,
        )
        failed_checks = [
            f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}"
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
        ]
        state = "ok" if result.success else "FAILED"
        print(
            f"  {state} in {time.perf_counter() - started:.1f}s (run {result.run_id[:8]})"
            + (f"; checks that did not pass: {', '.join(failed_checks)}" if failed_checks else ""),
            file=sys.stderr,
        )
        return result

    results = [run("master data snapshots", dg.AssetSelection.groups("master"))]
    if days:
        range_tags = {
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        }
        label = f"daily facts {days[0]} .. {days[-1]} ({len(days)} days, one run)"
        results.append(run(label, dg.AssetSelection.groups("factory", "inventory", "sales"), range_tags))
    results.append(run("supply-demand marts (dbt build)", dg.AssetSelection.groups("staging", "intermediate", "marts")))
    if not results[-1].success:
        print(
            "supplier feeds skipped: the marts did not build, so the published feeds stay as they are", file=sys.stderr
        )
        return results
    results += _materialize_feeds(store, instance, run)
    return results


def _materialize_feeds(store: LakeStore, instance, run) -> list:
    """One run per supplier (a partition each), so a supplier whose gate fails does not stop the others."""
    import dagster as dg

    from orchestration.defs.feeds.assets import FEED_KEY
    from orchestration.defs.feeds.partitions import register_suppliers

    names = register_suppliers(instance, store)
    return [run(f"feed of supplier {name}", dg.AssetSelection.assets(FEED_KEY), partition_key=name) for name in names]


def _feeds_summary(store: LakeStore) -> None:
    from orchestration.lib.feeds import LATEST, MANIFEST, feed_store, latest_manifest, published_suppliers

    names = published_suppliers(store)
    if not names:
        return
    feeds = feed_store(store)
    print(f"\n{'supplier feed':<16}{'rows':>8}  {'as of':<12}{'gate':<22}manifest")
    for name in names:
        manifest = latest_manifest(store, name)
        where = feeds.uri(name, manifest["version"], MANIFEST)
        outcome = manifest["validation"]["outcome"]
        print(f"{name:<16}{manifest['rows']:>8,}  {manifest['as_of_day'] or '':<12}{outcome:<22}{where}")
    print("feeds:      " + feeds.uri("<supplier_id>", LATEST) + "   (then <version>/manifest.json)")


def _summary(store: LakeStore) -> None:
    from orchestration.lib.report import entity_counts, format_summary, mart_counts

    print(format_summary([entity_counts(store, s) for s in load_sources().values()]))
    marts = mart_counts(store)
    if marts:
        print(f"\n{'mart':<28}{'rows':>12}  location")
        for name, rows in marts.items():
            print(f"{name:<28}{rows:>12,}  {store.uri(f'marts/{name}')}/")  # one file, or one a month
    _feeds_summary(store)
    print(f"\nlake: {store.uri()}")
    print("bronze:     " + store.uri("bronze/<entity>/[day=YYYY-MM-DD/]part-0.parquet"))
    print("quarantine: " + store.uri("quarantine/<entity>/day=YYYY-MM-DD/part-0.parquet"))
    if store.exists("warehouse.duckdb"):
        print("warehouse:  " + store.uri("warehouse.duckdb") + "   (BI tools: open read-only, schema `marts`)")
    print("UI: `make ui`, then open http://127.0.0.1:3000 (same lake, same run history)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="supplyloop", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", help="lake root (default: $LAKE_ROOT, else lake/ in the project)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("demo", "run"):
        p = sub.add_parser(name)
        p.add_argument("--preset", default="small", help="tiny | small | large (default: small)")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--faults", action="store_true", help="inject bad deliveries (see the README)")
        p.add_argument("--order-lines", type=int, help="scale the order-line volume to about this many")
    sub.choices["run"].add_argument(
        "--fresh",
        action="store_true",
        help="empty the lake's landing/, bronze/ and quarantine/ first, then regenerate the demo",
    )
    sub.add_parser("summary")
    args = parser.parse_args(argv)

    store = LakeStore(args.lake)
    if args.command == "demo":
        _demo(store, args.preset, args.seed, args.faults, args.order_lines)
        return 0
    if args.command == "run":
        if args.fresh:
            for layer in ("landing", "bronze", "quarantine", "_demo"):
                store.delete_dir(layer)
            print(f"--fresh: emptied landing/, bronze/ and quarantine/ of {store.uri()}", file=sys.stderr)
        if not _landing_days(store):
            _demo(store, args.preset, args.seed, args.faults, args.order_lines)
        results = materialize_all(store)
        _summary(store)
        return 0 if all(r.success for r in results) else 1
    _summary(store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
