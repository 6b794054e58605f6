"""The demand forecast against statsforecast's models, on every demo variant.

    python -m benchmarks.forecast [--preset small] [--variants promotions,trend_breaks]

For each variant of the demo (orchestration/lib/demo/variants.py; the baseline too) the demo
is generated into its own lake under .bench/forecast/ (once; cached), ingested to bronze and
built as `make run` builds it (the Dagster asset that runs `dbt build`). The forecast's
backtest (its 'backtest' origin, int_demand_forecasts_banded: fitted on the history up to the
cut-off, forecasting the held-out days) is then set against statsforecast 2.1.1's models,
fitted on the very same series (int_demand_days_filled: SKU x region x trading day) up to the
same cut-off and forecasting the same held-out days:

- SeasonalNaive, AutoETS, AutoTheta (season length 7), ADIDA and CrostonOptimized, per series;
- AutoETS on each SKU's total, split over the regions by their share of the SKU's last 56
  days (per series ETS is noisy on sparse SKU x region series; this peer is the stronger one).

A series with no demand before the cut-off gets 0 from every peer. Errors are the mart's:
WAPE = sum |actual - forecast| / sum actual at SKU x region x day, overall and per segment:
festival and ordinary days (the calendar's), and the SKU classes of
int_demand_sku_classes_assigned (fast, slow, intermittent, new; from the history before the
cut-off). Fit times are wall-clock seconds on this machine (the dbt forecast's is the whole
build's). The target, per variant: at least 10% lower WAPE than the best peer overall, and
never worse than that peer on ordinary days.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.common import PROJECT, run_child

BENCH_DIR = PROJECT / ".bench" / "forecast"
RESULTS = PROJECT / ".bench" / "forecast.json"
MARKER = "_demo/bench-marker"
SEASON = 7
SHARE_DAYS = 56
SEGMENTS = ("overall", "ordinary", "festival", "fast", "slow", "intermittent", "new")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- the lake of one variant ----------------------------------------------------------------


def _festivals_env(variant: str) -> dict[str, str]:
    """What the platform configures for this variant: the brand day's dates (variants.py)."""
    from orchestration.lib.demo.variants import festival_setting

    return {"SUPPLYLOOP_FESTIVALS": festival_setting()} if variant == "moving_festival" else {}


def _prepare(lake: Path, preset: str, variant: str) -> None:
    """The variant's demo in the lake's landing zone and bronze, generated once and cached."""
    from orchestration.lib.demo import generate
    from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import daily_sources, master_sources

    store = LakeStore(str(lake))
    marker = f"{preset}:{variant}"
    if store.exists(MARKER) and store.read_bytes(MARKER).decode() == marker:
        return
    say(f"  generating the {preset} preset, variant {variant} (once; cached) ...")
    for layer in ("landing", "bronze", "quarantine", "marts", ".build"):
        store.delete_dir(layer)
    generate(store, preset=preset, variant=variant)
    say("  ingesting it to bronze ...")
    for source in master_sources():
        ingest_snapshot(store, source)
    for source in daily_sources():
        days = sorted(d for d in landing_index(store, source) if d)
        ingest_days(store, source, days)
    store.write_bytes(MARKER, marker.encode())


# -- the series, the forecast and the peers -------------------------------------------------


def _read(lake: Path):
    """The series, the dbt forecast's backtest rows, the SKU classes and the cut-off."""
    import duckdb

    con = duckdb.connect(str(lake / ".build" / "warehouse.duckdb"), read_only=True)
    try:
        origin = con.execute(
            "select cutoff_day, horizon_days from intermediate.int_demand_forecast_origins_listed "
            "where forecast_origin = 'backtest'"
        ).fetchone()
        series = con.execute(
            "select sku, region, demand_day, demand_units from intermediate.int_demand_days_filled"
        ).df()
        ours = con.execute(
            "select sku, region, forecast_day as demand_day, forecast_units, forecast_lower, forecast_upper, "
            "is_festival from intermediate.int_demand_forecasts_banded where forecast_origin = 'backtest'"
        ).df()
        classes = con.execute(
            "select sku, sku_class from intermediate.int_demand_sku_classes_assigned where forecast_origin = 'backtest'"
        ).df()
        mart = con.execute(
            "select level, wape, band_coverage from marts.forecast_backtest where level = 'overall'"
        ).fetchone()
    finally:
        con.close()
    import pandas as pd

    for frame in (series, ours):  # one type of day throughout: pandas' timestamps
        frame["demand_day"] = pd.to_datetime(frame.demand_day)
    return series, ours, classes, pd.Timestamp(origin[0]), int(origin[1]), mart


def _peers(series, cutoff, horizon: int) -> tuple[dict, dict]:
    """Each peer's forecast of every series' held-out days, and its fit time in seconds."""
    import numpy as np
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, AutoETS, AutoTheta, CrostonOptimized, SeasonalNaive

    history = series[series.demand_day <= cutoff].copy()
    history["unique_id"] = history.sku + "|" + history.region
    totals = history.groupby("unique_id").demand_units.sum()
    live = totals[totals > 0].index
    frame = history[history.unique_id.isin(live)].rename(columns={"demand_day": "ds", "demand_units": "y"})
    frame = frame[["unique_id", "ds", "y"]].assign(y=lambda f: f.y.astype(float))
    models = {
        "SeasonalNaive": SeasonalNaive(season_length=SEASON),
        "AutoETS": AutoETS(season_length=SEASON),
        "AutoTheta": AutoTheta(season_length=SEASON),
        "ADIDA": ADIDA(),
        "CrostonOptimized": CrostonOptimized(),
    }
    forecasts, seconds = {}, {}
    for name, model in models.items():
        say(f"    {name} on {len(live):,} series ...")
        started = time.perf_counter()
        out = StatsForecast(models=[model], freq="D", n_jobs=1).forecast(df=frame, h=horizon)
        seconds[name] = time.perf_counter() - started
        forecasts[name] = _long(out.rename(columns={name: "forecast_units"}))
    # AutoETS on SKU totals, split by each region's share of the SKU's last SHARE_DAYS days
    say("    AutoETS on SKU totals, split by region share ...")
    started = time.perf_counter()
    sku_frame = frame.assign(sku=frame.unique_id.str.split("|").str[0]).groupby(["sku", "ds"], as_index=False).y.sum()
    out = StatsForecast(models=[AutoETS(season_length=SEASON)], freq="D", n_jobs=1).forecast(
        df=sku_frame.rename(columns={"sku": "unique_id"}), h=horizon
    )
    recent = history[history.demand_day > cutoff - pd.Timedelta(days=SHARE_DAYS)]
    share = recent.groupby(["sku", "region"]).demand_units.sum()
    share = (share / share.groupby(level=0).transform("sum")).fillna(0).rename("share").reset_index()
    split = out.rename(columns={"unique_id": "sku"}).merge(share, on="sku")
    split["forecast_units"] = np.maximum(split.AutoETS, 0) * split.share
    seconds["AutoETS on SKU totals x region share"] = time.perf_counter() - started
    forecasts["AutoETS on SKU totals x region share"] = split.assign(demand_day=split.ds)[
        ["sku", "region", "demand_day", "forecast_units"]
    ]
    return forecasts, seconds


def _cached_peers(lake: Path, series, cutoff, horizon: int) -> tuple[dict, dict]:
    """The peers' forecasts, fitted once per lake's data: they depend on the series alone, so
    a rebuild of the dbt forecast is compared against the very same forecasts."""
    import hashlib

    import pandas as pd

    key = hashlib.sha256(pd.util.hash_pandas_object(series, index=False).values.tobytes()).hexdigest()[:16]
    cache = lake.parent / f"peers-{key}-{cutoff.date()}-{horizon}"
    if (cache / "seconds.json").exists():
        say("  the peers' forecasts of these series (cached)")
        seconds = json.loads((cache / "seconds.json").read_text())
        return {name: pd.read_parquet(cache / f"{n}.parquet") for n, name in enumerate(seconds)}, seconds
    forecasts, seconds = _peers(series, cutoff, horizon)
    cache.mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(seconds):
        forecasts[name].to_parquet(cache / f"{n}.parquet")
    (cache / "seconds.json").write_text(json.dumps(seconds))
    return forecasts, seconds


def _long(out):
    """A statsforecast frame as sku, region, demand_day, forecast_units (never negative)."""
    parts = out.unique_id.str.split("|", expand=True)
    return out.assign(
        sku=parts[0], region=parts[1], demand_day=out.ds, forecast_units=out.forecast_units.clip(lower=0)
    )[["sku", "region", "demand_day", "forecast_units"]]


def _score(actuals, forecast, classes) -> dict:
    """WAPE overall and per segment of one forecast on the held-out series days."""
    frame = actuals.merge(forecast, on=["sku", "region", "demand_day"], how="left").fillna({"forecast_units": 0.0})
    frame = frame.merge(classes, on="sku", how="left").fillna({"sku_class": "new"})
    frame["error"] = (frame.demand_units - frame.forecast_units).abs()
    scores = {}
    for segment in SEGMENTS:
        if segment == "overall":
            part = frame
        elif segment in ("ordinary", "festival"):
            part = frame[frame.is_festival == (segment == "festival")]
        else:
            part = frame[frame.sku_class == segment]
        sold = part.demand_units.sum()
        scores[segment] = float(part.error.sum() / sold) if sold else None
        if "forecast_lower" in part:
            inside = (part.demand_units >= part.forecast_lower) & (part.demand_units <= part.forecast_upper)
            scores[f"{segment}_coverage"] = float(inside.mean()) if len(part) else None
    return scores


def _compare(lake: Path, build_seconds: float) -> dict:
    series, ours, classes, cutoff, horizon, mart = _read(lake)
    days = ours[["demand_day", "is_festival"]].drop_duplicates()
    held = series[series.demand_day > cutoff]
    # every series x held-out day either side forecast, with its actual (0 when it sold nothing)
    grid = ours[["sku", "region", "demand_day"]].merge(held, on=["sku", "region", "demand_day"], how="outer")
    actuals = grid.fillna({"demand_units": 0}).merge(days, on="demand_day")
    results = {"ours": {**_score(actuals, ours.drop(columns="is_festival"), classes), "seconds": build_seconds}}
    forecasts, seconds = _cached_peers(lake, series, cutoff, horizon)
    for name, forecast in forecasts.items():
        results[name] = {**_score(actuals, forecast, classes), "seconds": seconds[name]}
    counts = classes.sku_class.value_counts().to_dict()
    return {"cutoff": str(cutoff), "horizon": horizon, "mart_wape": mart[1], "classes": counts, "methods": results}


def _print(variant: str, result: dict) -> tuple[bool, str]:
    methods = result["methods"]
    peers = {k: v for k, v in methods.items() if k != "ours"}
    best = min(peers, key=lambda k: peers[k]["overall"])
    print(
        f"\n{variant}: cut-off {result['cutoff']}, {result['horizon']} held-out days, SKU classes {result['classes']}"
    )
    print(f"{'':<44}" + "".join(f"{s:>13}" for s in SEGMENTS) + f"{'fit s':>9}")
    for name, scores in methods.items():
        cells = "".join(f"{scores[s]:>13.3f}" if scores[s] is not None else f"{'-':>13}" for s in SEGMENTS)
        label = "dbt forecast (ours)" if name == "ours" else name + (" (best peer)" if name == best else "")
        print(f"{label:<44}{cells}{scores['seconds']:>9.1f}")
    ours = methods["ours"]
    cover = "".join(
        f"{ours[s + '_coverage']:>13.3f}" if ours.get(s + "_coverage") is not None else f"{'-':>13}" for s in SEGMENTS
    )
    print(f"{'ours: 80% band coverage':<44}{cover}")
    lead = 1 - ours["overall"] / peers[best]["overall"]
    ordinary_ok = ours["ordinary"] is None or ours["ordinary"] <= peers[best]["ordinary"]
    passed = lead >= 0.10 and ordinary_ok
    line = (
        f"target (>= 10% lower WAPE than the best peer overall, never worse on ordinary days): "
        f"{'PASS' if passed else 'MISS'}: {lead:+.1%} vs {best}, ordinary days "
        + (
            f"{ours['ordinary']:.3f} vs {peers[best]['ordinary']:.3f}"
            if ours["ordinary"] is not None
            else "none held out"
        )
    )
    print(line)
    return passed, line


def main() -> int:
    from orchestration.lib.demo.variants import VARIANTS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="tiny | small | large (default: small)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated (default: all)")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    results, verdicts = {}, {}
    for n, variant in enumerate(variants, 1):
        say(f"[{n}/{len(variants)}] {variant}")
        lake = BENCH_DIR / f"{args.preset}-{variant}" / "lake"
        _prepare(lake, args.preset, variant)
        say("  building the marts (dbt build) ...")
        saved = dict(os.environ)
        os.environ.update(_festivals_env(variant))
        try:
            # the marts built as `make run` builds them: the marts benchmark's own child
            build = run_child("benchmarks.marts", "ours", "--lake", str(lake))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if not build["ok"]:
            say(f"  the build of {variant} failed; see {lake}/.build/logs")
            verdicts[variant] = (False, "build failed")
            continue
        say(f"  built in {build['seconds']:.0f}s; fitting the peers ...")
        results[variant] = _compare(lake, build["seconds"])
        verdicts[variant] = _print(variant, results[variant])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"preset": args.preset, "variants": results}, indent=2, default=str))
    print(f"\nforecast vs statsforecast at the {args.preset} preset:")
    for variant, (_passed, line) in verdicts.items():
        print(f"  {variant:<16} {line}")
    return 0 if all(p for p, _ in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
