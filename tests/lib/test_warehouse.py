"""The published warehouse: read-only readers in other processes are never broken by a build."""

import json
import re
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.lib.warehouse import BuildPlan, Warehouse, mart_names, s3_secret_sql, sql_string

READER = textwrap.dedent(
    """
    import sys, time
    import sqlalchemy as sa
    engine = sa.create_engine(f"duckdb:///{sys.argv[1]}", connect_args={"read_only": True})
    with engine.connect() as con:
        print(con.execute(sa.text("SELECT sum(units) FROM marts.daily_demand")).scalar(), flush=True)
        sys.stdin.readline()  # hold the file open while the test publishes a new build
        print(con.execute(sa.text("SELECT sum(units) FROM marts.daily_demand")).scalar(), flush=True)
    """
)


def _build(warehouse: Warehouse, units: int) -> None:
    warehouse.build_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse.build_path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute(
            "CREATE OR REPLACE TABLE marts.daily_demand AS SELECT range AS day, ? AS units FROM range(10)", [units]
        )


@pytest.fixture
def warehouse(lake) -> Warehouse:
    return Warehouse(lake)


def _export(warehouse: Warehouse, sql: str) -> None:
    """What the build's export_mart() post-hook writes, into the export folder."""
    folder = warehouse.export_env()["SUPPLYLOOP_EXPORT_DIR"]
    with duckdb.connect(str(warehouse.build_path), read_only=True) as con:
        con.execute(sql.format(folder=folder))


def test_marts_are_exported_as_parquet_and_published_for_bi(warehouse):
    _build(warehouse, 2)
    _export(warehouse, "COPY marts.daily_demand TO '{folder}/daily_demand.parquet' (FORMAT parquet)")
    assert warehouse.publish_marts({}, BuildPlan(full=True)) == {"daily_demand": 10}
    assert not warehouse.export_dir.exists()
    table = pq.read_table(warehouse.store.fs_path("marts/daily_demand/part-0.parquet"))
    assert table.column("units").to_pylist() == [2] * 10
    published = warehouse.publish()
    with duckdb.connect(published, read_only=True) as con:
        assert con.execute("SELECT sum(units) FROM marts.daily_demand").fetchone() == (20,)


def test_a_reader_in_another_process_keeps_working_while_a_new_build_is_published(warehouse):
    _build(warehouse, 1)
    published = warehouse.publish()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, published], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline().strip() == "10"
        _build(warehouse, 5)  # the build file is free: readers hold the published copy only
        _export(warehouse, "COPY marts.daily_demand TO '{folder}/daily_demand.parquet' (FORMAT parquet)")
        warehouse.publish_marts({}, BuildPlan(full=True))
        warehouse.publish()
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "10"  # the old snapshot, unbroken
    finally:
        reader.communicate(timeout=30)
    assert reader.returncode == 0
    with duckdb.connect(published, read_only=True) as con:  # a new reader sees the new build
        assert con.execute("SELECT sum(units) FROM marts.daily_demand").fetchone() == (50,)


def test_the_published_warehouse_holds_the_marts_alone_as_views_with_their_comments(warehouse):
    _build(warehouse, 2)
    with duckdb.connect(str(warehouse.build_path)) as con:
        con.execute("CREATE SCHEMA staging")
        con.execute("CREATE VIEW staging.stg_orders AS SELECT 1 AS order_id")
        con.execute("CREATE SCHEMA intermediate")
        con.execute("CREATE TABLE intermediate.int_days AS SELECT 1 AS day")
        con.execute("""CREATE TABLE marts."it's" ("order day" DATE NOT NULL, units INTEGER)""")
        con.execute("""INSERT INTO marts."it's" VALUES ('2026-11-11', 3)""")
        con.execute("""COMMENT ON TABLE marts."it's" IS 'One row per day: what''s sold.'""")
        con.execute("""COMMENT ON COLUMN marts."it's"."order day" IS 'The day (Asia/Shanghai).'""")
    warehouse.record({"order_lines": {}}, models="v1")
    published = warehouse.publish()
    with duckdb.connect(published, read_only=True) as con:
        schemas = con.execute("SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()")
        assert sorted(r[0] for r in schemas.fetchall()) == ["main", "marts"]  # main: DuckDB's own, empty
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)  # views alone: no data
        views = con.execute("SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal")
        assert sorted(views.fetchall()) == [
            ("marts", "daily_demand", None),
            ("marts", "it's", "One row per day: what's sold."),
        ]
        assert con.execute("SELECT sum(units) FROM marts.daily_demand").fetchone() == (20,)
        assert con.execute('SELECT * FROM marts."it\'s"').fetchall() == [(date(2026, 11, 11), 3)]
        columns = con.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE table_name = 'it''s' ORDER BY column_index"
        ).fetchall()
        assert columns == [("order day", "DATE", "The day (Asia/Shanghai)."), ("units", "INTEGER", None)]
    assert [p.name for p in warehouse.build_path.parent.iterdir() if p.suffix == ".duckdb"] == ["warehouse.duckdb"]
    with duckdb.connect(str(warehouse.build_path), read_only=True) as con:  # the build keeps the rest
        assert con.execute("SELECT count(*) FROM intermediate.int_days").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM _supplyloop.build_record").fetchone() == (1,)


def test_a_build_plans_only_the_days_whose_bronze_changed(warehouse):
    _build(warehouse, 1)
    assert warehouse.plan({"order_lines": {"2026-11-10": 1.0}}, "v1").full  # never recorded: full
    warehouse.record({"order_lines": {"2026-11-10": 1.0, "2026-11-11": 1.0}, "products": {"snapshot": 1.0}}, "v1")
    plan = warehouse.plan(
        {"order_lines": {"2026-11-10": 1.0, "2026-11-11": 2.0, "2026-11-12": 2.0}, "products": {"snapshot": 1.0}},
        "v1",
    )
    assert not plan.full and [d.isoformat() for d in plan.days] == ["2026-11-11", "2026-11-12"]
    assert plan.dbt_env() == {
        "SUPPLYLOOP_START_DAY": "2026-11-11",
        "SUPPLYLOOP_END_DAY": "2026-11-12",
        # the definitions that look back a fixed span read it from the history's last day
        "SUPPLYLOOP_HISTORY_LAST_DAY": "2026-11-12",
    }
    assert "--full-refresh" not in plan.dbt_args() and "--full-refresh" in BuildPlan(full=True).dbt_args()
    assert BuildPlan(full=False).dbt_env() == {"SUPPLYLOOP_START_DAY": "9999-12-31", "SUPPLYLOOP_END_DAY": "9999-12-31"}


def test_a_new_snapshot_rebuilds_every_day_and_names_the_bronze_days_that_changed(warehouse):
    _build(warehouse, 1)
    bronze = {"order_lines": {"2026-11-10": 1.0, "2026-11-11": 1.0}, "products": {"snapshot": 1.0}}
    warehouse.record(bronze, "v1")
    plan = warehouse.plan({**bronze, "products": {"snapshot": 2.0}}, "v1")
    assert plan.full and plan.bronze_days == [] and plan.days[0].isoformat() == "2026-11-10"
    assert plan.dbt_env()["SUPPLYLOOP_BRONZE_START_DAY"] == "9999-12-31"  # no day: staging tests read none
    plan = warehouse.plan(
        {"order_lines": {**bronze["order_lines"], "2026-11-12": 1.0}, "products": {"snapshot": 2.0}}, "v1"
    )
    assert [d.isoformat() for d in plan.bronze_days] == ["2026-11-12"]
    assert plan.dbt_env()["SUPPLYLOOP_BRONZE_END_DAY"] == "2026-11-12"
    # other models: every test sees every day
    assert warehouse.plan({**bronze, "products": {"snapshot": 2.0}}, "v2").bronze_days is None
    assert "SUPPLYLOOP_BRONZE_START_DAY" not in warehouse.plan(bronze, "v2").dbt_env()


def test_a_full_build_knows_the_history_it_builds_by_month(warehouse):
    bronze = {
        "order_lines": {"2026-10-30": 1.0, "2026-11-12": 1.0},
        "machine_events": {"2026-10-28": 1.0},
        "products": {"snapshot": 1.0},
    }
    plan = warehouse.plan(bronze, "v1")  # nothing built yet
    assert plan.full and plan.days[0].isoformat() == "2026-10-28" and plan.days[-1].isoformat() == "2026-11-12"
    assert plan.dbt_env() == {
        "SUPPLYLOOP_HISTORY_FIRST_DAY": "2026-10-28",
        "SUPPLYLOOP_HISTORY_LAST_DAY": "2026-11-12",
    }
    assert BuildPlan(full=True).dbt_env() == {}  # no history known: one pass


def test_a_build_with_changed_models_rebuilds_every_day(warehouse):
    _build(warehouse, 1)
    bronze = {"order_lines": {"2026-11-10": 1.0}}
    warehouse.record(bronze, models="v1")
    assert not warehouse.plan(bronze, models="v1").full
    assert warehouse.plan(bronze, models="v2").full
    with duckdb.connect(str(warehouse.build_path)) as con:  # a build made before builds were recorded
        con.execute("DROP SCHEMA _supplyloop CASCADE")
    assert warehouse.plan(bronze, models="v1").full


def test_a_new_machine_builds_incrementally_from_the_build_kept_in_the_lake_and_its_record(
    s3_lake, tmp_path, monkeypatch
):
    """A cloud task starts with an empty disk: the build it needs, record included, is in the lake."""
    bronze = {"order_lines": {"2026-11-10": 1.0}, "products": {"snapshot": 1.0}}
    monkeypatch.setenv("SUPPLYLOOP_STATE", str(tmp_path / "task-1"))
    first = Warehouse(s3_lake)
    _build(first, 1)
    first.record(bronze, models="v1")
    first.publish()
    monkeypatch.setenv("SUPPLYLOOP_STATE", str(tmp_path / "task-2"))
    second = Warehouse(s3_lake)
    assert second.plan(bronze, models="v1").full  # nothing on this machine yet
    second.prepare()
    plan = second.plan(
        {"order_lines": {**bronze["order_lines"], "2026-11-11": 1.0}, "products": {"snapshot": 1.0}}, "v1"
    )
    assert not plan.full and [d.isoformat() for d in plan.days] == ["2026-11-11"]
    with duckdb.connect() as con:  # BI tools see no record
        con.execute(s3_secret_sql(s3_lake.endpoint))
        con.execute(f"ATTACH {sql_string(s3_lake.uri('warehouse.duckdb'))} AS warehouse (READ_ONLY)")
        assert con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE schema_name <> 'marts' AND NOT internal"
        ).fetchone() == (0,)
        assert con.execute("SELECT sum(units) FROM warehouse.marts.daily_demand").fetchone() == (10,)


def test_a_local_lake_builds_in_its_own_build_file_and_publishes_only_the_marts(warehouse):
    _build(warehouse, 1)
    warehouse.publish()
    assert [f.path for f in warehouse.store.list_files(".build", "*.duckdb")] == [".build/warehouse.duckdb"]
    warehouse.build_path.unlink()
    warehouse.prepare()  # the build file was the lake's: a full build starts anew
    assert not warehouse.build_path.exists()


def test_on_s3_a_new_machine_gets_dbts_parse_cache_from_the_lake(s3_lake, tmp_path, monkeypatch):
    monkeypatch.setenv("SUPPLYLOOP_STATE", str(tmp_path / "task-1"))
    first = Warehouse(s3_lake)
    _build(first, 1)
    first.dbt_target_path.mkdir(parents=True)
    (first.dbt_target_path / "partial_parse.msgpack").write_bytes(b"parsed")
    first.record({"order_lines": {}}, models="v1")
    monkeypatch.setenv("SUPPLYLOOP_STATE", str(tmp_path / "task-2"))
    second = Warehouse(s3_lake)
    second.prepare()
    assert (second.dbt_target_path / "partial_parse.msgpack").read_bytes() == b"parsed"


DAY_ROWS = 20_000  # a day of a history big enough for its build file to be many blocks


def _build_history(warehouse: Warehouse, days: int) -> None:
    """A build file of ``days`` days of hard-to-compress rows (about 0.6 MB a day); a later
    call with more days appends the new ones, as an incremental build does."""
    warehouse.build_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse.build_path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute("CREATE TABLE IF NOT EXISTS marts.daily_demand (day INTEGER, units UBIGINT, note VARCHAR)")
        built = con.execute("SELECT coalesce(max(day) + 1, 0) FROM marts.daily_demand").fetchone()[0]
        con.execute(
            "INSERT INTO marts.daily_demand SELECT range // ?, hash(range), md5(range::VARCHAR) FROM range(?, ?)",
            [DAY_ROWS, built * DAY_ROWS, days * DAY_ROWS],
        )


def _bronze(days: int) -> dict[str, dict[str, float]]:
    return {"order_lines": {f"2026-11-{d + 1:02d}": 1.0 for d in range(days)}, "products": {"snapshot": 1.0}}


def _uploads(store, since: set | None = None) -> tuple[set, int]:
    """Every version of every object under the lake's ``.build/`` (the bucket is versioned, as
    the stack's lake is: each PUT is a version), and the bytes of those not in ``since``."""
    import boto3

    bucket, _, prefix = store.root[len("s3://") :].partition("/")
    client = boto3.client("s3", endpoint_url=store.endpoint.url, region_name="us-east-1")
    versions = {
        (v["Key"], v["VersionId"]): v["Size"]
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=f"{prefix}/.build/")
        for v in page.get("Versions", [])
    }
    return set(versions), sum(size for version, size in versions.items() if version not in (since or set()))


@pytest.fixture
def versioned_lake(s3_lake):
    import boto3

    bucket = s3_lake.root[len("s3://") :].split("/")[0]
    boto3.client("s3", endpoint_url=s3_lake.endpoint.url, region_name="us-east-1").put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return s3_lake


def _rows(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM marts.daily_demand ORDER BY ALL").fetchall()


def _task(lake, tmp_path, monkeypatch, name: str) -> Warehouse:
    """The warehouse as a cloud task of its own sees it: from an empty state folder."""
    monkeypatch.setenv("SUPPLYLOOP_STATE", str(tmp_path / name))
    return Warehouse(lake)


def _build_and_record(warehouse: Warehouse, days: int) -> None:
    _build_history(warehouse, days)
    warehouse.record(_bronze(days), models="v1")


def _planned(warehouse: Warehouse, days: int) -> str | list[str]:
    """What the next build of ``days`` days redoes: ``full``, or the days."""
    plan = warehouse.plan(_bronze(days), models="v1")
    return "full" if plan.full else [d.isoformat() for d in plan.days]


def test_on_s3_a_new_day_sends_the_blocks_it_changed_not_the_whole_build_file(versioned_lake, tmp_path, monkeypatch):
    warehouse = _task(versioned_lake, tmp_path, monkeypatch, "task-1")
    _build_and_record(warehouse, 10)
    first, sent_first = _uploads(versioned_lake)
    assert sent_first >= warehouse.build_path.stat().st_size  # the lake had nothing yet
    _build_history(warehouse, 11)
    said = warehouse.record(_bronze(11), models="v1")
    _, sent = _uploads(versioned_lake, since=first)
    size = warehouse.build_path.stat().st_size
    assert size > 5_000_000 and 0 < sent < size / 4, f"a new day sent {sent} bytes of a {size}-byte build file"
    assert 0 < said <= sent  # what record() says it sent: the pieces (the list of them is the rest)
    listed = json.loads(versioned_lake.read_bytes(".build/warehouse.pieces.json"))
    assert sorted({f.name for f in versioned_lake.list_files(".build/pieces")}) == sorted(set(listed["pieces"]))


def test_on_s3_a_new_machine_puts_the_build_together_from_its_pieces_and_builds_the_next_day_only(
    s3_lake, tmp_path, monkeypatch
):
    first = _task(s3_lake, tmp_path, monkeypatch, "task-1")
    for days in (10, 11):
        _build_and_record(first, days)
    second = _task(s3_lake, tmp_path, monkeypatch, "task-2")
    second.prepare()
    assert second.build_path.read_bytes() == first.build_path.read_bytes()
    assert _planned(second, 12) == ["2026-11-12"]
    for warehouse in (first, second):  # each machine builds the next day: the same marts
        _build_history(warehouse, 12)
    assert _rows(second.build_path) == _rows(first.build_path)


def test_on_s3_a_build_killed_while_its_pieces_go_up_leaves_the_previous_build_for_the_next_machine(
    s3_lake, tmp_path, monkeypatch
):
    first = _task(s3_lake, tmp_path, monkeypatch, "task-1")
    _build_and_record(first, 10)
    kept = first.build_path.read_bytes()
    put_new, puts = s3_lake.put_new, []

    def killed_after_one(rel, data):
        if puts:
            raise ConnectionError("the task was stopped")
        puts.append(rel)
        put_new(rel, data)

    monkeypatch.setattr(s3_lake, "put_new", killed_after_one)
    with pytest.raises(ConnectionError):
        _build_and_record(first, 11)
    second = _task(s3_lake, tmp_path, monkeypatch, "task-2")
    second.prepare()
    assert second.build_path.read_bytes() == kept  # the last build that was kept whole
    assert _planned(second, 11) == ["2026-11-11"]


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda lake, piece: lake.write_bytes(piece, b"\0" * 262144), "does not hold what its name says"),
        (lambda lake, piece: lake.delete(piece), "Path does not exist"),
    ],
    ids=["a piece not what its name says", "a piece gone"],
)
def test_on_s3_a_kept_build_that_does_not_check_out_makes_the_next_build_a_full_one(
    s3_lake, tmp_path, monkeypatch, damage, why
):
    _build_and_record(_task(s3_lake, tmp_path, monkeypatch, "task-1"), 10)
    listed = json.loads(s3_lake.read_bytes(".build/warehouse.pieces.json"))
    damage(s3_lake, f".build/pieces/{listed['pieces'][3]}")
    second, said = _task(s3_lake, tmp_path, monkeypatch, "task-2"), []
    second.prepare(say=said.append)
    assert not second.build_path.exists() and not list(second.build_path.parent.glob(".*tmp-*"))
    assert _planned(second, 10) == "full"
    assert why in said[0] and "in full" in said[0]


def test_on_s3_a_machine_starts_from_the_whole_build_file_an_older_version_kept_and_then_keeps_pieces(
    s3_lake, tmp_path, monkeypatch
):
    first = _task(s3_lake, tmp_path, monkeypatch, "task-1")
    _build(first, 1)
    first.record(_bronze(10), models="v1")
    s3_lake.delete(".build/warehouse.pieces.json")
    s3_lake.write_bytes(".build/warehouse.duckdb", first.build_path.read_bytes())
    second = _task(s3_lake, tmp_path, monkeypatch, "task-2")
    second.prepare()
    assert _planned(second, 10) == []
    second.record(_bronze(10), models="v1")
    assert s3_lake.exists(".build/warehouse.pieces.json") and not s3_lake.exists(".build/warehouse.duckdb")


def test_the_models_fingerprint_follows_the_models_not_the_data_tests(tmp_path, monkeypatch):
    from orchestration.defs.transform import project

    for rel in ("dbt_project.yml", "models/a.sql", "macros/m.sql", "tests/t.sql", "profiles.yml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("select 1")
    monkeypatch.setattr(project, "TRANSFORMS_DIR", tmp_path)
    before = project.models_fingerprint()
    (tmp_path / "tests/t.sql").write_text("select 2")
    (tmp_path / "profiles.yml").write_text("other: 1")
    assert project.models_fingerprint() == before
    (tmp_path / "models/a.sql").write_text("select 2")
    assert project.models_fingerprint() != before


def _daily_supply(warehouse: Warehouse, first: str, days: int, qty: int = 1) -> None:
    warehouse.build_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse.build_path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute(
            "CREATE OR REPLACE TABLE marts.daily_supply AS SELECT DATE "
            f"'{first}' + (range // 100)::INT AS production_day, range % 100 AS line, {qty} AS qty "
            f"FROM range({days} * 100)"
        )


def _export_days(warehouse: Warehouse, since: str = "0001-01-01") -> None:
    """What export_mart() writes for daily_supply: a file a day, from ``since`` on."""
    folder = warehouse.export_env()["SUPPLYLOOP_EXPORT_DIR"]
    with duckdb.connect(str(warehouse.build_path), read_only=True) as con:
        days = con.execute(
            f"SELECT DISTINCT production_day FROM marts.daily_supply WHERE production_day >= DATE '{since}'"
        ).fetchall()
        for (day,) in days:
            (Path(folder) / "daily_supply" / f"day={day}").mkdir(parents=True)
            con.execute(
                f"COPY (SELECT * FROM marts.daily_supply WHERE production_day = DATE '{day}' ORDER BY ALL) "
                f"TO '{folder}/daily_supply/day={day}/part-0.parquet' (FORMAT parquet, COMPRESSION zstd)"
            )


def _files(store) -> dict[str, tuple[int, int]]:
    """{path: (inode, mtime)} of every file of a local lake."""
    root = Path(store.fs_path(""))
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


DAILY = {"daily_supply": "production_day"}


def test_a_daily_marts_days_are_published_one_file_each_and_a_full_build_drops_the_days_it_lost(warehouse):
    _daily_supply(warehouse, "2026-10-30", 5)
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    files = sorted(f.path for f in warehouse.store.list_files("marts/daily_supply", recursive=True))
    assert files == [f"marts/daily_supply/2026-{d}.parquet" for d in ("10-30", "10-31", "11-01", "11-02", "11-03")]
    assert warehouse.store.read_table("marts/daily_supply/2026-10-31.parquet").num_rows == 100
    # an incremental build publishes the days it wrote and keeps the others
    _export_days(warehouse, since="2026-11-02")
    warehouse.publish_marts(DAILY, BuildPlan(full=False, days=[date(2026, 11, 2)]))
    assert sorted(f.path for f in warehouse.store.list_files("marts/daily_supply", recursive=True)) == files
    # a build whose history no longer holds October drops its days
    with duckdb.connect(str(warehouse.build_path)) as con:
        con.execute("DELETE FROM marts.daily_supply WHERE production_day < DATE '2026-11-01'")
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    assert sorted(f.path for f in warehouse.store.list_files("marts/daily_supply", recursive=True)) == files[2:]
    published = warehouse.publish()
    with duckdb.connect(published, read_only=True) as con:
        assert con.execute("SELECT count(*), min(production_day) FROM marts.daily_supply").fetchone() == (
            300,
            date(2026, 11, 1),
        )


def test_a_new_day_writes_its_own_file_and_the_catalog_and_nothing_of_the_history(warehouse):
    _daily_supply(warehouse, "2026-01-01", 300)
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    warehouse.publish()
    before = _files(warehouse.store)
    _daily_supply(warehouse, "2026-01-01", 301)  # the history and one more day
    _export_days(warehouse, since="2026-10-21")  # the window's day and the days before it dbt exports too
    warehouse.publish_marts(DAILY, BuildPlan(full=False, days=[date(2026, 10, 28)]))
    warehouse.publish()
    after = _files(warehouse.store)
    changed = sorted(p for p in after if before.get(p) != after[p] and not p.startswith(".build/"))
    day = [p for p in changed if p.startswith("warehouse/daily_supply/")]
    assert len(day) == 1 and day[0].startswith("warehouse/daily_supply/2026-10-28-")
    assert changed == sorted(
        [*day, "marts/daily_supply/2026-10-28.parquet", "warehouse.duckdb", "warehouse/manifest.json"]
    )
    assert after["marts/daily_supply/2026-10-28.parquet"][0] == after[day[0]][0]  # a hard link: written once
    with duckdb.connect(warehouse.published_uri, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.daily_supply").fetchone() == (30100,)


def test_publishing_the_same_build_again_stores_nothing_new(warehouse):
    _daily_supply(warehouse, "2026-01-01", 30)
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    warehouse.publish()
    stored = {p: v for p, v in _files(warehouse.store).items() if p.startswith(("warehouse/", "marts/"))}
    _export_days(warehouse)  # a full build of the same rows: the same bytes, the same names
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    warehouse.publish()
    again = {p: v for p, v in _files(warehouse.store).items() if p.startswith(("warehouse/", "marts/"))}
    assert {p: v for p, v in again.items() if p != "warehouse/manifest.json"} == {
        p: v for p, v in stored.items() if p != "warehouse/manifest.json"
    }


def test_a_day_the_export_missed_is_published_from_the_build(warehouse):
    _daily_supply(warehouse, "2026-01-01", 10)
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    _daily_supply(warehouse, "2026-01-01", 12, qty=2)  # every day changed, two new: none exported
    warehouse.export_env()
    warehouse.publish_marts(DAILY, BuildPlan(full=False, days=[date(2026, 1, 12)]))
    with duckdb.connect(warehouse.publish(), read_only=True) as con:
        # the new days come from the build; the old days' rows did not change in number, so they stay
        assert con.execute("SELECT count(*), sum(qty) FROM marts.daily_supply").fetchone() == (1200, 1400)


def test_a_reader_of_the_previous_catalog_keeps_its_files_for_a_while_then_they_are_removed(warehouse):
    _daily_supply(warehouse, "2026-01-01", 3)
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    old = Path(warehouse.publish()).read_bytes()
    _daily_supply(warehouse, "2026-01-01", 3, qty=5)  # every day changed
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    warehouse.store.write_bytes("warehouse/daily_supply/2026-01-09-killed.parquet", b"a killed build's file")
    warehouse.publish()
    previous = Path(warehouse.build_path.parent / "previous.duckdb")
    previous.write_bytes(old)
    with duckdb.connect(str(previous), read_only=True) as con:  # the catalog a reader still holds
        assert con.execute("SELECT sum(qty) FROM marts.daily_supply").fetchone() == (300,)
    stored = [f.path for f in warehouse.store.list_files("warehouse", "*.parquet", recursive=True)]
    assert len(stored) == 7  # three days twice, and the killed build's file
    assert len(warehouse.collect(keep_for=0)) == 4  # no catalog reads them now
    assert len(warehouse.store.list_files("warehouse", "*.parquet", recursive=True)) == 3
    with duckdb.connect(warehouse.published_uri, read_only=True) as con:
        assert con.execute("SELECT sum(qty) FROM marts.daily_supply").fetchone() == (1500,)


def test_a_publish_killed_before_the_catalog_leaves_the_previous_warehouse_whole(warehouse, monkeypatch):
    _daily_supply(warehouse, "2026-01-01", 3)
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))
    warehouse.publish()
    _daily_supply(warehouse, "2026-01-01", 4, qty=5)
    _export_days(warehouse)
    warehouse.publish_marts(DAILY, BuildPlan(full=True))  # stored, not yet in the catalog

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("orchestration.lib.warehouse.write_catalog", killed)
    with pytest.raises(KeyboardInterrupt):
        warehouse.publish()
    with duckdb.connect(warehouse.published_uri, read_only=True) as con:
        assert con.execute("SELECT count(*), sum(qty) FROM marts.daily_supply").fetchone() == (300, 300)
    monkeypatch.undo()
    with duckdb.connect(warehouse.publish(), read_only=True) as con:  # the next publish completes it
        assert con.execute("SELECT count(*), sum(qty) FROM marts.daily_supply").fetchone() == (400, 2000)


def test_a_mart_skipped_for_a_missing_source_loses_what_an_earlier_build_published_of_it(warehouse):
    warehouse.store.write_bytes("marts/inventory_flow_breaks/part-0.parquet", b"an older build's mart")
    _build(warehouse, 1)
    _export(warehouse, "COPY marts.daily_demand TO '{folder}/daily_demand.parquet' (FORMAT parquet)")
    rows = warehouse.publish_marts({}, BuildPlan(full=True), dropped=["inventory_flow_breaks", "factory_oee"])
    assert rows == {"daily_demand": 10}
    assert warehouse.store.list_dirs("marts") == ["daily_demand"]


def test_a_mart_the_build_did_not_export_fails_the_publishing_and_names_the_hook(warehouse):
    _build(warehouse, 1)
    warehouse.export_env()
    with pytest.raises(RuntimeError, match="export_mart"):
        warehouse.publish_marts({}, BuildPlan(full=True))
    assert not warehouse.store.exists("marts/daily_demand/part-0.parquet")


def test_a_full_build_starts_from_an_empty_file_so_the_old_tables_leave_no_free_space(warehouse):
    def build(seed: int) -> None:
        with duckdb.connect(str(warehouse.build_path)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS marts")
            con.execute(
                f"CREATE OR REPLACE TABLE marts.history AS SELECT hash(range + {seed}) AS v FROM range(2000000)"
            )

    warehouse.build_path.parent.mkdir(parents=True, exist_ok=True)
    build(1)
    once = warehouse.build_path.stat().st_size
    build(2)  # the same table again in the same file: the first one's blocks stay as free space
    assert warehouse.build_path.stat().st_size > 1.5 * once
    warehouse.start_over()
    assert not warehouse.build_path.exists()
    build(3)
    assert warehouse.build_path.stat().st_size < 1.2 * once


def test_the_build_record_keeps_any_text_it_is_given(warehouse):
    # the record is spelled into its SQL (sql_string), not bound: a quote must survive
    _build(warehouse, 1)
    bronze = {"order_lines": {"2026-11-10": 1.0}, "partners": {"snapshot": 2.0}}
    warehouse.record(bronze, "models with a ' quote and a \\ backslash")
    assert not warehouse.plan(bronze, "models with a ' quote and a \\ backslash").full
    with duckdb.connect(str(warehouse.build_path), read_only=True) as con:
        assert mart_names(con) == ["daily_demand"]


def test_no_daily_mart_rebuilds_more_days_before_its_window_than_an_incremental_build_exports():
    """An incremental build exports from EXPORT_DAYS_BEFORE days before its window on: a daily
    mart that rebuilt earlier days would publish them only when their rows changed in number."""
    from orchestration.lib.paths import TRANSFORMS_DIR
    from orchestration.lib.warehouse import EXPORT_DAYS_BEFORE

    reaches = {
        path.stem: max([0, *(int(n) for n in re.findall(r"days_before=(\d+)", path.read_text()))])
        for path in (TRANSFORMS_DIR / "models" / "marts").glob("*.sql")
        if "day_column" in path.read_text()
    }
    assert len(reaches) >= 5 and reaches["lot_recipients"] == 2
    assert {name: days for name, days in reaches.items() if days > EXPORT_DAYS_BEFORE} == {}
