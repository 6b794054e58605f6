"""The marts build at the large preset: against a plain DuckDB script, and one new day vs the first.

    python -m benchmarks.marts [--lake .bench/lake]

- ours: the Dagster asset that runs `dbt build` (models and all ~90 data tests; each mart is
  written to Parquet as it is built), then publishes the marts and the warehouse, as
  `make run` does.
- baseline: the same models' compiled SQL run as one DuckDB script (CREATE TABLE/VIEW in
  dependency order, then COPY each mart to Parquet) with the same DuckDB settings as dbt's
  profile (memory limit, insertion order, Parquet metadata cache): the computation alone,
  no dbt, no tests. It is compiled as a plain `dbt compile` compiles, each model in one
  statement; a full build runs its two heaviest daily models a month at a time, so the
  script compiled that way is also run once, to show what dbt, the tests and Dagster add to
  the very SQL the build runs.
- incremental: the history minus its last day is built; then the last day lands and is built
  incrementally, against a build of a lake that holds only the first day.

A full build is forced the way production meets one: a master-data snapshot changes (its
file is rewritten), so dbt's parse cache is as warm as in any build but a lake's first.
The first day's build is timed the same way, as that lake's second build.

Each side runs in its own process; peak memory is the larger of that process and its children.
The full build and the baseline alternate ``--repeat`` times (5 by default), and the new
day's build and the first day's ``--day-repeat`` times (5: they are short, and their ratio
is the more sensitive to a busy minute); the median run of each is reported, with the
range: on a shared machine one run of any can be a third off. Each ratio is also given as
the median of the runs' own ratios, each run against the other side's run next to it: a
slow minute then slows both sides of a pair, not one side's median.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from functools import partial
from pathlib import Path

from benchmarks.common import BENCH_LAKE, PROJECT, ensure_demo, run_child

RESULTS = PROJECT / ".bench" / "marts.json"


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _ours(lake: str) -> dict:
    import dagster as dg

    from orchestration.defs.resources import Lake
    from orchestration.defs.transform.assets import supply_demand_marts
    from orchestration.defs.transform.project import dbt_cli

    started = time.perf_counter()
    result = dg.materialize(
        [supply_demand_marts],
        resources={"lake": Lake(root=lake), "dbt": dbt_cli()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    return {"seconds": time.perf_counter() - started, "ok": result.success, "peak_mb": _peak_mb()}


def _baseline(lake: str, by_month: bool = False) -> dict:
    """The compiled SQL of every model, in dependency order, as one DuckDB script.

    ``by_month``: compiled as a full build compiles them, the heaviest daily models a month
    at a time (transforms/macros/build_window.sql), so that the full build can also be set
    against the very SQL it runs.
    """
    import duckdb

    from orchestration.defs.transform.project import DBT_EXECUTABLE
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.landing import bronze_stamps
    from orchestration.lib.paths import TRANSFORMS_DIR
    from orchestration.lib.sources import load_sources
    from orchestration.lib.warehouse import BuildPlan, Warehouse, history_days

    store = LakeStore(lake)
    work = Path(lake).parent / "baseline"
    shutil.rmtree(work, ignore_errors=True)
    (work / "out").mkdir(parents=True)
    env = {**os.environ, **Warehouse(store).dbt_env(), "WAREHOUSE_PATH": str(work / "warehouse.duckdb")}
    if by_month:
        history = history_days(bronze_stamps(store, list(load_sources().values())))
        env.update(BuildPlan(full=True, days=history).dbt_env())
    subprocess.run(
        [DBT_EXECUTABLE, "compile", "--quiet", "--target-path", str(work / "target")],
        cwd=TRANSFORMS_DIR,
        env=env,
        check=True,
    )
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    order, seen = [], set()

    def visit(uid: str) -> None:
        if uid in seen or uid not in models:
            return
        seen.add(uid)
        for parent in models[uid]["depends_on"]["nodes"]:
            visit(parent)
        order.append(uid)

    for uid in sorted(models):
        visit(uid)
    started = time.perf_counter()
    con = duckdb.connect(str(work / "warehouse.duckdb"))
    # the engine settings transforms/profiles.yml gives dbt, so the two sides differ only in
    # what dbt, the tests, Dagster and publishing add
    for name, value in _profile_settings().items():
        con.execute(f"SET {name} = ?", [value])
    for uid in order:
        node = models[uid]
        kind = "VIEW" if node["config"]["materialized"] == "view" else "TABLE"
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{node["schema"]}"')
        con.execute(f'CREATE OR REPLACE {kind} "{node["schema"]}"."{node["name"]}" AS {node["compiled_code"]}')
        if node["schema"] == "marts":
            con.execute(
                f"""COPY "marts"."{node["name"]}" TO '{work / "out" / (node["name"] + ".parquet")}' (FORMAT parquet)"""
            )
    con.close()
    return {"seconds": time.perf_counter() - started, "ok": True, "peak_mb": _peak_mb(), "models": len(order)}


def _profile_settings() -> dict:
    """The DuckDB settings of the local target in transforms/profiles.yml, rendered as dbt
    renders them (``env_var`` with its default), so the script cannot drift from the build."""
    import jinja2
    import yaml

    from orchestration.lib.paths import TRANSFORMS_DIR

    profile = yaml.safe_load((TRANSFORMS_DIR / "profiles.yml").read_text())
    settings = profile["supplyloop"]["outputs"]["local"]["settings"]
    env = jinja2.Environment()
    env.globals["env_var"] = lambda name, default="": os.environ.get(name, default)
    return {k: env.from_string(v).render() if isinstance(v, str) else v for k, v in settings.items()}


def _prepare(store, first_day_lake: Path) -> tuple[date, float]:
    """Bronze of every source for all days but the last; a second lake with only the first day."""
    from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import daily_sources, master_sources

    sources = daily_sources()
    days = sorted({d for s in sources for d in landing_index(store, s) if d})
    for source in master_sources():
        ingest_snapshot(store, source)
    started = time.perf_counter()
    for source in sources:
        ingest_days(store, source, days[:-1])
        store.delete_dir(f"{source.bronze_dir}/day={days[-1].isoformat()}")
    ingest_seconds = time.perf_counter() - started
    print(f"bronze for {len(days) - 1} days of every source in {ingest_seconds:.0f}s", file=sys.stderr)
    shutil.rmtree(first_day_lake, ignore_errors=True)
    first = LakeStore(str(first_day_lake))
    for source in master_sources():
        first.write_bytes(
            f"{source.bronze_dir}/part-0.parquet", store.read_bytes(f"{source.bronze_dir}/part-0.parquet")
        )
    for source in sources:
        rel = f"{source.bronze_dir}/day={days[0].isoformat()}/part-0.parquet"
        first.write_bytes(rel, store.read_bytes(rel))
    return days[-1], ingest_seconds


def _force_full(lake: str) -> None:
    """A new master-data snapshot, as a new partner or SKU brings: the next build is full."""
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import master_sources

    snapshot = Path(LakeStore(lake).fs_path(f"{master_sources()[0].bronze_dir}/part-0.parquet"))
    os.utime(snapshot)


def _touch_day(lake: str, day: date) -> None:
    """Every daily source's partition of ``day`` rewritten: the next build redoes that day."""
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import daily_sources

    store = LakeStore(lake)
    for source in daily_sources():
        for f in store.list_files(f"{source.bronze_dir}/day={day.isoformat()}", "*.parquet"):
            os.utime(store.fs_path(f.path))


def _median(runs: list[dict]) -> dict:
    """The run with the median time, with the range of all of them."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return {**ordered[len(ordered) // 2], "range": [ordered[0]["seconds"], ordered[-1]["seconds"]], "runs": len(runs)}


def _paired(ours: list[dict], theirs: list[dict]) -> float:
    """The median of the ratios of runs made one after the other."""
    ratios = sorted(a["seconds"] / b["seconds"] for a, b in zip(ours, theirs, strict=True))
    return ratios[len(ratios) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default=str(BENCH_LAKE))
    parser.add_argument("--preset", default="large")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the full build and of the baseline")
    parser.add_argument("--day-repeat", type=int, default=5, help="runs of the new day's and the first day's builds")
    parser.add_argument("--child", choices=["ours", "baseline", "baseline-by-month"])
    args = parser.parse_args()
    if args.child:
        children = {"ours": _ours, "baseline": _baseline, "baseline-by-month": partial(_baseline, by_month=True)}
        print(json.dumps(children[args.child](args.lake)))
        return 0

    from orchestration.lib.ingest import ingest_day
    from orchestration.lib.sources import daily_sources

    store = ensure_demo(args.lake, args.preset)
    first_day_lake = Path(args.lake).parent / "first-day"
    last_day, ingest_seconds = _prepare(store, first_day_lake)
    run_child("benchmarks.marts", "ours", "--lake", str(first_day_lake))  # the lake's very first build
    fulls, bases = [], []
    for _ in range(max(args.repeat, 1)):
        _force_full(args.lake)
        fulls.append(run_child("benchmarks.marts", "ours", "--lake", args.lake))
        bases.append(run_child("benchmarks.marts", "baseline", "--lake", args.lake))
    full, base = _median(fulls), _median(bases)
    by_month = run_child("benchmarks.marts", "baseline-by-month", "--lake", args.lake)  # once: for the record
    for source in daily_sources():
        ingest_day(store, source, last_day)
    news, firsts = [], []
    for run in range(max(args.day_repeat, 1)):
        if run:  # the same day's bronze rewritten, as a corrected delivery does: the same work again
            _touch_day(args.lake, last_day)
        news.append(run_child("benchmarks.marts", "ours", "--lake", args.lake))
        _force_full(str(first_day_lake))
        firsts.append(run_child("benchmarks.marts", "ours", "--lake", str(first_day_lake)))
    new_day, first = _median(news), _median(firsts)

    print(f"\nmarts at the {args.preset} preset ({last_day} is the new day)")
    print(f"{'':<46}{'seconds':>9}{'peak MB':>10}  ok   range of the runs")
    for label, r in [
        ("plain DuckDB script (compiled models, no tests)", base),
        ("the same, heavy models by month (1 run)", by_month),
        ("full build: Dagster + dbt build + publish", full),
        ("first day's build (1 day of history)", first),
        ("one new day at a year of history", new_day),
    ]:
        spread = f"{r['range'][0]:.1f}-{r['range'][1]:.1f} s of {r['runs']}" if "range" in r else ""
        print(f"{label:<46}{r['seconds']:>9.1f}{r['peak_mb']:>10,.0f}  {str(r['ok']):<5}{spread}")
    # the gates benchmark sets the gates against the whole pipeline's time
    RESULTS.write_text(
        json.dumps(
            {"ingest_seconds": ingest_seconds, "full": full, "baseline": base, "by_month": by_month, "new_day": new_day}
        )
    )
    print("\n(medians; in brackets the median of the ratios of the runs made one after the other)")
    print(
        f"full build / plain script:      {full['seconds'] / base['seconds']:.2f}x [{_paired(fulls, bases):.2f}x]"
        "  (target <= 1.3x)"
    )
    print(f"full build / same SQL by month: {full['seconds'] / by_month['seconds']:.2f}x  (dbt, tests, Dagster)")
    print(
        f"new day / first day's build:    {new_day['seconds'] / first['seconds']:.2f}x [{_paired(news, firsts):.2f}x]"
        "  (target <= 1.2x)"
    )
    return 0 if all(r["ok"] for r in (*firsts, *fulls, *bases, *news)) else 1


if __name__ == "__main__":
    sys.exit(main())
