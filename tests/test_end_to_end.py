"""The whole ingestion, through Dagster, on tiny demo data with every fault injected."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pytest

from orchestration.cli import materialize_all
from orchestration.lib.demo import generate
from orchestration.lib.demo.generator import QUANTITY
from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import load_sources

pytestmark = pytest.mark.slow


def _run(store: LakeStore) -> tuple[dict, list]:
    truth = generate(store, preset="tiny", seed=11, faults=True).truth
    results = materialize_all(store, instance=dg.DagsterInstance.ephemeral())
    return truth, results


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    store = LakeStore(str(tmp_path_factory.mktemp("e2e") / "lake"))
    truth, results = _run(store)
    return store, truth, results


def _bronze(store, source):
    return store.read_table(source.bronze_dir)


def _quarantine(store, source):
    files = store.list_files(source.quarantine_dir, "*.parquet", recursive=True)
    return store.read_table(source.quarantine_dir) if files else None


def test_every_run_succeeds_and_the_unreadable_files_fail_their_check(local_run):
    store, truth, results = local_run
    assert all(r.success for r in results)
    failed = {
        e.asset_check_evaluation_data.asset_key.path[-1]
        for r in results
        for e in r.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.check_name == "files_readable"
    }
    file_level = {
        f["entity"] for f in truth["faults"] if f["rows"] is None and f["expected_reason"] != "duplicate_file"
    }
    assert failed == file_level


def test_accepted_totals_equal_the_generators_clean_totals(local_run):
    store, truth, _ = local_run
    for name, source in load_sources().items():
        bronze = _bronze(store, source)
        clean = truth["clean"][name]
        assert bronze.num_rows == clean["rows"], name
        if name in QUANTITY:
            assert pc.sum(bronze.column(QUANTITY[name])).as_py() == clean["qty"], name


def test_every_injected_fault_is_caught_with_its_reason(local_run):
    store, truth, _ = local_run
    sources = load_sources()
    for fault in truth["faults"]:
        source = sources[fault["entity"]]
        name = fault["file"].rsplit("/", 1)[-1]
        if fault["expected_reason"] is None:  # a late file: its rows belong to its own day
            bronze = _bronze(store, source).filter(pc.equal(pc.field("_source_file"), name))
            assert bronze.num_rows > 0, fault
            continue
        quarantine = _quarantine(store, source)
        assert quarantine is not None, fault
        mine = quarantine.filter(pc.equal(quarantine.column("_source_file"), name)).to_pylist()
        if fault["rows"] is None:
            assert mine and all(r["_reason_code"] == fault["expected_reason"] for r in mine), fault
        else:
            reasons = {r["_source_row"]: r["_reason"] for r in mine}
            for row in fault["rows"]:
                assert fault["expected_reason"] in reasons.get(row, ""), (fault, reasons.get(row))


def test_quarantine_holds_exactly_the_injected_rows_and_files(local_run):
    """Accepted = clean and quarantined = injected, so accepted + quarantined = delivered."""
    store, truth, _ = local_run
    expected = Counter()
    for fault in truth["faults"]:
        entity = fault["entity"]
        if fault["expected_reason"] is None:
            continue
        if fault["expected_reason"] == "duplicate_file":
            expected[entity] += truth["clean"][entity]["by_day"][fault["day"]]
        elif fault["expected_reason"] == "missing_column":  # rejected whole, kept row by row
            expected[entity] += store.read_bytes(fault["file"]).rstrip(b"\n").count(b"\n")
        elif fault["rows"] is None:
            expected[entity] += 1
        else:
            expected[entity] += len(fault["rows"])
    for name, source in load_sources().items():
        quarantine = _quarantine(store, source)
        assert (quarantine.num_rows if quarantine is not None else 0) == expected[name], name


def test_the_same_loop_runs_on_s3_with_the_same_result(local_run, s3_env, monkeypatch):
    """Ingest -> marts -> gates -> feeds on a moto S3 server, laid out as the AWS stack lays it
    out: deliveries, lake and feeds in three buckets; the feeds readable from their bucket."""
    import hashlib
    import io

    import boto3
    import pyarrow.parquet as pq

    s3 = boto3.client("s3", endpoint_url=s3_env.url, region_name="us-east-1")
    for bucket in ("e2e-landing", "e2e-lake", "e2e-feeds"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAKE_ROOT", "s3://e2e-lake/lake")
    monkeypatch.setenv("LANDING_ROOT", "s3://e2e-landing/landing")
    monkeypatch.setenv("FEEDS_ROOT", "s3://e2e-feeds/feeds")
    monkeypatch.setenv("SUPPLYLOOP_STATE", str(local_run[0].fs_path(".s3-state")))
    s3_lake = LakeStore()
    store, truth, _ = local_run
    s3_truth, results = _run(s3_lake)
    assert all(r.success for r in results)
    assert s3_truth["clean"] == truth["clean"]
    for name, source in load_sources().items():
        assert _bronze(s3_lake, source).num_rows == _bronze(store, source).num_rows, name
        local_q, s3_q = _quarantine(store, source), _quarantine(s3_lake, source)
        assert (s3_q.num_rows if s3_q is not None else 0) == (local_q.num_rows if local_q is not None else 0), name
    for mart in MARTS:
        assert s3_lake.read_table(f"marts/{mart}").num_rows == store.read_table(f"marts/{mart}").num_rows, mart
    ledger = {"local": store.read_table("bronze/_deliveries"), "s3": s3_lake.read_table("bronze/_deliveries")}
    assert {k: pc.sum(t.column("accepted")).as_py() for k, t in ledger.items()} == {
        k: sum(_bronze(lake, s).num_rows for s in load_sources().values() if s.is_daily)
        for k, lake in (("local", store), ("s3", s3_lake))
    }
    # a supplier reads its feed with nothing but S3 access to its own prefix
    mart = store.read_table("marts/supplier_replenishment/part-0.parquet")

    def read(supplier: str, key: str) -> bytes:
        return s3.get_object(Bucket="e2e-feeds", Key=f"feeds/{supplier}/{key}")["Body"].read()

    for supplier in sorted(set(mart.column("supplier_id").to_pylist())):
        latest = json.loads(read(supplier, "latest.json"))
        manifest_bytes = read(supplier, latest["manifest"])
        assert hashlib.sha256(manifest_bytes).hexdigest() == latest["manifest_sha256"]
        manifest = json.loads(manifest_bytes)
        assert manifest["supplier_id"] == supplier and manifest["validation"]["success"]
        for name, described in manifest["files"].items():
            body = read(supplier, f"{latest['version']}/{name}")
            assert hashlib.sha256(body).hexdigest() == described["sha256"], name
        rows = pq.read_table(io.BytesIO(read(supplier, f"{latest['version']}/replenishment.parquet")))
        assert rows.num_rows == manifest["rows"] == mart.filter(pc.equal(mart["supplier_id"], supplier)).num_rows
    assert "Contents" not in s3.list_objects_v2(Bucket="e2e-lake", Prefix="lake/landing/")
    assert "Contents" not in s3.list_objects_v2(Bucket="e2e-lake", Prefix="lake/feeds/")


MARTS = {
    "daily_demand",
    "daily_supply",
    "inventory_position",
    "factory_oee",
    "demand_forecast",
    "forecast_backtest",
    "supply_demand_balance",
    "partner_performance",
    "supplier_replenishment",
    "supplier_scorecard",
}


def test_every_mart_is_published_as_parquet_and_in_the_warehouse(local_run):
    import duckdb

    store, _, _ = local_run
    assert MARTS <= set(store.list_dirs("marts"))
    with duckdb.connect(store.fs_path("warehouse.duckdb"), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
            ).fetchall()
        }
        assert MARTS <= tables
        for mart in MARTS:
            parquet = store.read_table(f"marts/{mart}")
            assert parquet.num_rows == con.execute(f"SELECT count(*) FROM marts.{mart}").fetchone()[0], mart
            assert parquet.num_rows > 0, mart


def test_demand_and_supply_marts_reconcile_with_the_accepted_rows(local_run):
    from orchestration.lib.warehouse import Warehouse

    store, truth, _ = local_run
    demand = store.read_table("marts/daily_demand")
    supply = store.read_table("marts/daily_supply")
    assert pc.sum(demand.column("units_ordered")).as_py() == truth["clean"]["order_lines"]["qty"]
    assert pc.sum(supply.column("qty_good")).as_py() == truth["clean"]["production_output"]["qty"]
    # the first build was full: daily demand was built a month at a time (the demo spans two)
    compiled = next(Warehouse(store).dbt_target_path.glob("run/**/daily_demand.sql")).read_text()
    assert compiled.count("union all") == 1 and "order_day >= date '2026-11-01'" in compiled


def _dbt_on_a_copy(store, tmp_path, args: list[str], env: dict[str, str] | None = None, before=None):
    """dbt run on a copy of the build (``before(con)`` may change it first); its results."""
    import os
    import shutil
    import subprocess

    import duckdb

    from orchestration.defs.transform.project import DBT_EXECUTABLE
    from orchestration.lib.paths import TRANSFORMS_DIR
    from orchestration.lib.warehouse import Warehouse

    warehouse = Warehouse(store)
    copy = tmp_path / "warehouse.duckdb"  # dbt's catalog is named after the file
    if not copy.exists():
        shutil.copyfile(warehouse.build_path, copy)
    if before is not None:
        with duckdb.connect(str(copy)) as con:
            before(con)
    full_env = {**os.environ, **warehouse.dbt_env(), **(env or {}), "WAREHOUSE_PATH": str(copy)}
    target = tmp_path / "target"
    done = subprocess.run(
        [DBT_EXECUTABLE, *args, "--target-path", str(target)],
        cwd=TRANSFORMS_DIR,
        env=full_env,
        capture_output=True,
        text=True,
    )
    results = json.loads((target / "run_results.json").read_text())["results"]
    return done, [r for r in results if not r["unique_id"].startswith("operation.")], copy  # hooks left out


def test_a_full_build_checks_a_daily_marts_grain_month_by_month_and_catches_a_duplicate(local_run, tmp_path):
    from orchestration.lib.landing import bronze_stamps
    from orchestration.lib.warehouse import BuildPlan, history_days

    store, _, _ = local_run
    history = history_days(bronze_stamps(store, list(load_sources().values())))
    done, [result], _ = _dbt_on_a_copy(
        store,
        tmp_path,
        ["test", "--select", "daily_demand,test_name:unique_key_columns"],
        env=BuildPlan(full=True, days=history).dbt_env(),
        # one key of the first month twice
        before=lambda con: con.execute(
            "INSERT INTO marts.daily_demand SELECT * FROM marts.daily_demand ORDER BY order_day LIMIT 1"
        ),
    )
    assert done.returncode == 1, done.stdout[-4000:]
    assert result["status"] == "fail" and result["failures"] == 1
    assert result["compiled_code"].count("union all") == 1  # the demo's two months


def test_a_full_build_forced_by_new_master_data_retests_a_daily_source_only_on_its_changed_days(local_run, tmp_path):
    from orchestration.lib.landing import bronze_stamps
    from orchestration.lib.warehouse import BuildPlan, history_days

    store, _, _ = local_run
    history = history_days(bronze_stamps(store, list(load_sources().values())))

    def reuse_the_first_days_session_ids(con):
        con.execute("ALTER VIEW staging.stg_sales__live_sessions RENAME TO stg_sales__live_sessions_as_built")
        con.execute(
            "CREATE VIEW staging.stg_sales__live_sessions AS SELECT * FROM staging.stg_sales__live_sessions_as_built "
            "UNION ALL SELECT * FROM staging.stg_sales__live_sessions_as_built "
            "WHERE session_day = (SELECT min(session_day) FROM staging.stg_sales__live_sessions_as_built)"
        )

    def test_staging(bronze_days, before=None):
        plan = BuildPlan(full=True, days=history, bronze_days=bronze_days)
        select = ["test", "--select", "stg_sales__live_sessions stg_sales__order_lines"]
        done, results, _ = _dbt_on_a_copy(store, tmp_path, select, env=plan.dbt_env(), before=before)
        return done, {r["unique_id"].split(".")[2].split("_stg_")[0]: r for r in results}

    # only the last day changed: the ids reused on the first day are not looked up again
    done, results = test_staging([history[-1]], before=reuse_the_first_days_session_ids)
    assert done.returncode == 0, done.stdout[-4000:]
    assert history[-1].isoformat() in results["accepted_values"]["compiled_code"]
    # the SKUs of every day are looked up in the new products
    assert history[-1].isoformat() not in results["relationships"]["compiled_code"]
    done, results = test_staging([history[0]])  # the first day changed: caught
    assert done.returncode == 1 and results["unique_across_days"]["status"] == "fail"


def test_a_view_is_created_again_only_when_its_sql_changed(local_run, tmp_path):
    import duckdb

    store, _, _ = local_run
    view = "staging.stg_sales__order_lines"
    run = ["run", "--select", "stg_sales__order_lines"]
    done, [kept], copy = _dbt_on_a_copy(store, tmp_path, run)
    assert done.returncode == 0, done.stdout[-4000:]
    assert kept["message"] == "UNCHANGED"
    # a view made from other SQL (its digest differs) is replaced, and gets the new digest
    done, [made], _ = _dbt_on_a_copy(
        store, tmp_path, run, before=lambda con: con.execute(f"COMMENT ON VIEW {view} IS 'x'")
    )
    assert done.returncode == 0 and made["message"] != "UNCHANGED"
    with duckdb.connect(str(copy), read_only=True) as con:
        [(comment,)] = con.execute(
            "SELECT comment FROM duckdb_views() WHERE schema_name = 'staging' AND view_name = 'stg_sales__order_lines'"
        ).fetchall()
    assert len(comment) == 32 and comment != "x"


def test_replenishment_suggestions_respect_the_minimum_order(local_run):
    store, _, _ = local_run
    rows = store.read_table("marts/supplier_replenishment/part-0.parquet").to_pylist()
    assert all(r["suggested_qty"] % r["min_order_qty"] == 0 and r["suggested_qty"] >= 0 for r in rows)
    assert {r["priority"] for r in rows} <= {"none", "normal", "high", "urgent"}


def test_the_forecasts_80_percent_band_covers_about_80_percent_of_the_held_out_days(local_run):
    """The band is calibrated on an earlier origin's errors, never on the held-out days."""
    store, _, _ = local_run
    rows = store.read_table("marts/forecast_backtest/part-0.parquet").to_pylist()
    (overall,) = [r for r in rows if r["level"] == "overall"]
    assert 0.65 <= overall["band_coverage"] <= 0.95
    classes = {r["segment"] for r in rows if r["level"] == "sku_class"}
    assert classes and classes <= {"fast", "slow", "intermittent", "new"}


def test_the_dbt_unit_tests_pass_against_the_built_warehouse(local_run, tmp_path):
    """Production builds leave dbt's unit tests out; CI runs them here, on the same project."""
    import json
    import os
    import subprocess

    from orchestration.defs.transform.project import DBT_EXECUTABLE
    from orchestration.lib.paths import TRANSFORMS_DIR
    from orchestration.lib.warehouse import Warehouse

    store, _, _ = local_run
    env = {**os.environ, **Warehouse(store).dbt_env()}
    args = [DBT_EXECUTABLE, "test", "--select", "test_type:unit", "--target-path", str(tmp_path)]
    done = subprocess.run(args, cwd=TRANSFORMS_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:]
    results = json.loads((tmp_path / "run_results.json").read_text())["results"]
    results = [r for r in results if r["unique_id"].startswith("unit_test.")]  # not the on-run-start hook
    assert len(results) >= 10 and all(r["status"] == "pass" for r in results)


def _published_files(store: LakeStore) -> dict[str, tuple[int, int]]:
    """{path: (inode, size)} of the published warehouse's files: the catalog, the stored
    Parquet and the marts at their fixed names (a hard link to a stored file shares its inode)."""
    root = Path(store.fs_path(""))
    found = {}
    for path in [root / "warehouse.duckdb", *(root / "warehouse").rglob("*"), *(root / "marts").rglob("*")]:
        if path.is_file():
            stat = path.stat()
            found[path.relative_to(root).as_posix()] = (stat.st_ino, stat.st_size)
    return found


def test_a_new_day_rebuilds_only_that_day_of_the_daily_marts(local_run):
    from datetime import date

    import duckdb

    from orchestration.defs.transform.project import models_fingerprint
    from orchestration.lib.ingest import ingest_day
    from orchestration.lib.landing import bronze_stamps
    from orchestration.lib.warehouse import Warehouse
    from tests.conftest import CSV_HEADER

    store, truth, _ = local_run
    sources = load_sources()
    day = date.fromisoformat(truth["end"])
    # a SKU x region that never sold before: the forecast's series gains it, zeros before the day
    lines = store.read_table("bronze/order_lines").select(["sku", "region"]).to_pylist()
    sold = {(r["sku"], r["region"]) for r in lines}
    skus = store.read_table("bronze/products").column("sku").to_pylist()
    sku, region = next((s, r) for s in skus for r in sorted({r for _, r in sold}) if (s, r) not in sold)
    partner = store.read_table("bronze/partners").column("partner_id")[0].as_py()
    late_line = f"O-LATE-1,1,{day} 12:00:00,{partner},{sku},7,9.90,,{region},,paid\n"
    store.write_bytes(f"landing/order_lines/order_lines_{day}_late.csv", (CSV_HEADER + late_line).encode())
    ingest_day(store, sources["order_lines"], day)  # the day's bronze changes
    plan = Warehouse(store).plan(bronze_stamps(store, list(sources.values())), models_fingerprint())
    assert not plan.full and plan.days == [day]
    before = _published_files(store)
    results = materialize_all(store, instance=dg.DagsterInstance.ephemeral())
    assert all(r.success for r in results)
    after = _published_files(store)
    # only the day's file of a daily mart is published again
    demand = sorted(p for p in after if p.startswith("marts/daily_demand/"))
    assert len(demand) >= 14 and demand == sorted(p for p in before if p.startswith("marts/daily_demand/"))
    assert [p for p in demand if after[p] != before[p]] == [f"marts/daily_demand/{day}.parquet"]
    # and the day costs about a day: the stored files it wrote are a small part of the history
    written = {after[p] for p in after if after[p] != before.get(p) and p != "warehouse.duckdb"}
    stored = sum(size for _, size in written)
    history = sum(size for p, (_, size) in after.items() if p.startswith("marts/"))
    daily = sum(size for p, (_, size) in after.items() if p.startswith("marts/") and p.endswith(f"/{day}.parquet"))
    assert stored < 3 * daily + history / 10, (stored, daily, history)
    assert after["warehouse.duckdb"][1] < 2 << 20  # the catalog: views, no data
    demand = store.read_table("marts/daily_demand")
    assert pc.sum(demand.column("units_ordered")).as_py() == truth["clean"]["order_lines"]["qty"] + 7
    with duckdb.connect(str(Warehouse(store).build_path), read_only=True) as con:  # BI tools see only marts
        days = con.execute("SELECT count(DISTINCT demand_day) FROM intermediate.int_demand_days_filled").fetchone()[0]
        series = con.execute(
            "SELECT count(*), sum(demand_units), max(demand_day) FROM intermediate.int_demand_days_filled "
            "WHERE sku = ? AND region = ?",
            [sku, region],
        ).fetchone()
    assert series == (days, 7, day)  # a row on every trading day, zero but the new one


def test_a_failing_dbt_test_publishes_nothing_and_keeps_the_last_good_marts(local_run):
    from datetime import date

    from orchestration.lib.ingest import ingest_day

    store, truth, _ = local_run
    published = store.read_bytes("warehouse.duckdb")
    marts_before = {f.path: f.size for f in store.list_files("marts", recursive=True)}
    movements = store.read_table("bronze/stock_movements").to_pylist()
    first, last = movements[0], movements[-1]
    day = date.fromisoformat(truth["end"])
    # a movement id that another day already used: the ingestion cannot see across days, dbt's test can
    row = f"{first['movement_id']},{day}T11:00:00,{last['warehouse_id']},{last['sku']},1,adjustment\n"
    store.write_bytes(
        f"landing/stock_movements/stock_movements_{day}_fix.csv",
        ("\ufeffmovement_id,moved_at,warehouse_id,sku,qty,movement_type\n" + row).encode(),
    )
    ingest_day(store, load_sources()["stock_movements"], day)
    result = materialize_all(store, instance=dg.DagsterInstance.ephemeral())[-1]
    assert not result.success
    assert store.read_bytes("warehouse.duckdb") == published
    assert {f.path: f.size for f in store.list_files("marts", recursive=True)} == marts_before


def test_every_supplier_gets_a_gated_feed_and_the_feeds_add_up_to_the_mart(local_run):
    import pyarrow as pa

    from orchestration.lib.feeds import latest_manifest, published_versions, read_feed, supplier_ids, verify_feed

    store, _, results = local_run
    checks = {
        (e.asset_check_evaluation_data.asset_key.to_user_string(), e.asset_check_evaluation_data.check_name)
        for r in results
        for e in r.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.asset_check_evaluation_data.passed
    }
    assert ("bronze/sales/order_lines", "order_lines_gate") in checks
    assert ("feeds/supplier_replenishment", "supplier_replenishment_gate") in checks
    suppliers, rejected = supplier_ids(store)
    assert suppliers and not rejected
    feeds = []
    for supplier in suppliers:
        manifest = latest_manifest(store, supplier)
        assert manifest["supplier_id"] == supplier and manifest["validation"]["success"], supplier
        assert store.exists(manifest["validation"]["result"]) and manifest["validation"]["docs"].endswith(".html")
        assert verify_feed(store, supplier) == [], supplier  # every checksum in the manifest holds
        assert store.list_dirs(f"feeds/{supplier}") == published_versions(store, supplier)  # none left unpublished
        rows = read_feed(store, supplier)
        assert rows.num_rows == manifest["rows"] and set(rows.column("supplier_id").to_pylist()) == {supplier}
        feeds.append(rows)
    union = pa.concat_tables(feeds).sort_by("sku")
    mart = store.read_table("marts/supplier_replenishment/part-0.parquet")
    assert union.equals(mart.select(union.column_names).sort_by("sku"))


def test_every_supplier_sees_its_own_delivery_scorecard_and_the_ledger_adds_up_to_bronze(local_run):
    import pyarrow.csv as pacsv

    from orchestration.lib.arrivals import LEDGER_DIR
    from orchestration.lib.feeds import SCORECARD_FILE, feed_store, latest_manifest, supplier_ids

    store, _, _ = local_run
    # the ledger counts every accepted row of a scored source once, per factory, as bronze holds it
    source = load_sources()["production_output"]
    bronze = Counter(_bronze(store, source).column("factory_id").to_pylist())
    ledger = store.read_table(LEDGER_DIR).to_pylist()
    by_factory = Counter()
    for row in ledger:
        if row["source"] == source.name and row["deliverer"]:
            by_factory[row["deliverer"]] += row["accepted"]
    assert by_factory == bronze
    mart = store.read_table("marts/supplier_scorecard/part-0.parquet")
    assert mart.num_rows and set(pc.unique(mart.column("delivery_status")).to_pylist()) <= {
        "on_time",
        "late",
        "rejected",
        "missing",
        "no_rows",
    }
    feeds = feed_store(store)
    for supplier in supplier_ids(store)[0]:
        manifest = latest_manifest(store, supplier)
        assert manifest["scorecard"]["file"] == SCORECARD_FILE and SCORECARD_FILE in manifest["files"]
        data = feeds.store.read_bytes(feeds.path(supplier, manifest["version"], SCORECARD_FILE))
        rows = pacsv.read_csv(__import__("io").BytesIO(data.removeprefix(b"\xef\xbb\xbf")))
        assert set(rows.column("supplier_id").to_pylist()) == {supplier}  # its own rows, nobody else's
        own = mart.filter(pc.equal(mart.column("supplier_id"), supplier))
        assert rows.num_rows == own.num_rows
