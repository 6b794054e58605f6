"""Traceability on the tiny demo, built for real: lots allocated first in first out, the recall
query, and `supplyloop trace` down to the landing files and rows (local lake and S3)."""

from __future__ import annotations

import contextlib
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pyarrow.compute as pc
import pytest

from orchestration.cli import main, materialize_all
from orchestration.lib.demo import generate
from orchestration.lib.lake import LakeFile, LakeStore
from orchestration.lib.readers import ROW, read_landing_file
from orchestration.lib.sources import load_sources
from orchestration.lib.trace import trace

pytestmark = pytest.mark.slow

SOURCES = load_sources()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> LakeStore:
    """The tiny demo, every asset materialized once for the module."""
    store = LakeStore(str(tmp_path_factory.mktemp("trace") / "lake"))
    generate(store, preset="tiny", seed=7)
    results = materialize_all(store, instance=dg.DagsterInstance.ephemeral())
    assert all(r.success for r in results)
    return store


@pytest.fixture(scope="module")
def lake_sql(built):
    """DuckDB over the lake's Parquet, as any reader of the public layout queries it."""
    con = duckdb.connect()
    root = built.fs_path("")
    for mart in ("lots", "stock_lot_allocations", "lot_recipients"):
        con.execute(f"CREATE VIEW {mart} AS SELECT * FROM read_parquet('{root}/marts/{mart}/**/*.parquet')")
    for entity in ("stock_movements", "order_lines"):
        con.execute(
            f"CREATE VIEW {entity} AS SELECT * FROM read_parquet('{root}/bronze/{entity}/*/*.parquet', "
            "hive_partitioning = true)"
        )
    yield con
    con.close()


def _busiest_lot(con) -> str:
    return con.execute(
        "SELECT lot_id FROM lot_recipients WHERE allocation = 'fifo' GROUP BY lot_id ORDER BY count(*) DESC, lot_id LIMIT 1"
    ).fetchone()[0]


# -- the marts ---------------------------------------------------------------------------
def test_every_unit_that_left_a_warehouse_is_allocated_to_exactly_one_lot_or_unallocated(lake_sql):
    differ = lake_sql.execute(
        """
        SELECT m.movement_id, -m.qty AS moved, a.units
        FROM stock_movements AS m
        LEFT JOIN (SELECT movement_id, sum(units) AS units FROM stock_lot_allocations GROUP BY movement_id) AS a
            USING (movement_id)
        WHERE m.qty < 0 AND a.units IS DISTINCT FROM -m.qty
        """
    ).fetchall()
    assert differ == []
    unallocated = lake_sql.execute(
        "SELECT DISTINCT allocation FROM stock_lot_allocations WHERE lot_id = 'unallocated'"
    ).fetchall()
    assert {a for (a,) in unallocated} <= {"inflow_without_lot", "beyond_inflows"}
    assert lake_sql.execute("SELECT count(*) FROM stock_lot_allocations WHERE allocation = 'fifo'").fetchone()[0] > 0


def test_no_lot_gives_out_more_units_than_its_receipts_brought_in(lake_sql):
    over = lake_sql.execute(
        """
        WITH received AS (
            SELECT lot_id, warehouse_id, sum(qty) AS units FROM stock_movements
            WHERE lot_id IS NOT NULL AND qty > 0 GROUP BY ALL
        ), allocated AS (
            SELECT lot_id, warehouse_id, sum(units) AS units FROM stock_lot_allocations
            WHERE allocation = 'fifo' GROUP BY ALL
        )
        SELECT * FROM allocated LEFT JOIN received USING (lot_id, warehouse_id)
        WHERE received.units IS NULL OR allocated.units > received.units
        """
    ).fetchall()
    assert over == []


def test_every_shipping_order_line_gets_all_its_units_from_lots_or_unallocated(lake_sql):
    differ = lake_sql.execute(
        """
        SELECT o.order_id, o.line_no, o.qty, r.units
        FROM order_lines AS o
        LEFT JOIN (SELECT order_id, line_no, sum(units) AS units FROM lot_recipients GROUP BY ALL) AS r
            USING (order_id, line_no)
        WHERE o.status IN ('paid', 'refunded') AND r.units IS DISTINCT FROM o.qty
        """
    ).fetchall()
    assert differ == []


def test_the_recall_query_lists_the_partners_and_orders_that_received_a_lot(built, lake_sql):
    lot = _busiest_lot(lake_sql)
    shipped = lake_sql.execute(
        "SELECT sum(units) FROM stock_lot_allocations WHERE lot_id = ? AND movement_type = 'shipment'", [lot]
    ).fetchone()[0]
    with duckdb.connect(built.fs_path("warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT * FROM marts.lot_recipients WHERE lot_id = ?", [lot]).fetchall()
        names = [d[0] for d in con.description]
    recipients = [dict(zip(names, r)) for r in rows]
    assert len({r["partner_id"] for r in recipients}) > 1
    assert sum(r["units"] for r in recipients) == shipped  # every shipped unit of the lot reached an order line
    line, work_order = lake_sql.execute("SELECT line_id, work_order_id FROM lots WHERE lot_id = ?", [lot]).fetchone()
    assert {(r["line_id"], r["work_order_id"]) for r in recipients} == {(line, work_order)}


# -- supplyloop trace ----------------------------------------------------------------------
def _assert_delivered_as_in_bronze(store: LakeStore, origins) -> None:
    """Each origin's landing file, read again, holds at its row number the values bronze has."""
    assert origins
    for origin in origins:
        source = SOURCES[origin.entity]
        info = store.fs.get_file_info(store.fs_path(origin.landing))
        raw = read_landing_file(store, source, LakeFile(origin.landing, info.size, info.mtime)).table
        rows = raw.filter(pc.equal(raw.column(ROW), origin.row)).to_pylist()
        assert len(rows) == 1, origin
        for key in source.key:
            bronze, delivered = origin.values[key], rows[0][key]
            if isinstance(bronze, datetime):  # the delivered text names the same local second
                local = bronze.astimezone(ZoneInfo(source.timezone))
                assert local.strftime("%H:%M:%S") in delivered, (origin, key)
            elif isinstance(bronze, date):
                assert delivered.startswith(bronze.isoformat()), (origin, key)
            else:
                assert str(bronze) == delivered, (origin, key)


def _cli(store: LakeStore, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--lake", store.root, "trace", *args])
    return code, out.getvalue(), err.getvalue()


def test_trace_of_a_suggested_quantity_reaches_the_landing_files_and_rows(built):
    supplier, sku = _replenishment_key(built)
    code, printed, _ = _cli(built, "supplier_replenishment", f"{supplier}/{sku}")
    assert code == 0
    assert printed.startswith(f"supplier_replenishment {supplier}/{sku}: suggested_qty ")
    for step in ("demand_forecast", "bronze/order_lines", "bronze/stock_snapshots", "bronze/work_orders"):
        assert step in printed
    assert "<- landing/order_lines/order_lines_" in printed
    result = trace(built, "supplier_replenishment", f"{supplier}/{sku}")
    assert {o.entity for o in result.origins} >= {"order_lines", "stock_snapshots", "work_orders"}
    _assert_delivered_as_in_bronze(built, result.origins)


def test_trace_of_an_order_line_reaches_its_lot_the_line_that_made_it_and_their_files(built, lake_sql):
    order_id, line_no, lot = lake_sql.execute(
        "SELECT order_id, line_no, lot_id FROM lot_recipients WHERE allocation = 'fifo' ORDER BY order_id, line_no LIMIT 1"
    ).fetchone()
    result = trace(built, "order_lines", f"{order_id}/{line_no}")
    printed = str(result)
    assert printed.startswith(f"order line {order_id}/{line_no}:")
    assert f"from lot {lot}" in printed and "work order WO" in printed
    assert {o.entity for o in result.origins} >= {"order_lines", "production_output", "stock_movements"}
    _assert_delivered_as_in_bronze(built, result.origins)


def test_trace_of_a_published_feed_row_follows_its_mart_row(built):
    supplier, sku = _replenishment_key(built)
    printed = str(trace(built, f"feeds/{supplier}", sku))
    assert printed.startswith(f"feeds/{supplier} {sku}: suggested_qty ")
    assert f"\n  supplier_replenishment {supplier}/{sku}: suggested_qty " in printed


def test_trace_of_a_lot_answers_the_recall_question(built, lake_sql):
    lot = _busiest_lot(lake_sql)
    partners = lake_sql.execute(
        "SELECT count(DISTINCT partner_id) FROM lot_recipients WHERE lot_id = ?", [lot]
    ).fetchone()
    printed = str(trace(built, "lots", lot))
    assert f"received by {partners[0]} partners" in printed
    assert f"WHERE lot_id = '{lot}'" in printed


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("daily_nonsense", "x"), "unknown mart or feed 'daily_nonsense'; trace one of:"),
        (("daily_demand", "x"), "does not follow the mart 'daily_demand' yet"),
        (("supplier_replenishment", "SUP001"), "takes a key <supplier>/<sku>"),
        (("supplier_replenishment", "SUP001/NOPE"), "supplyloop trace supplier_replenishment SUP001/"),
        (("lots", "NOPE"), "e.g. `supplyloop trace lots "),
        (("order_lines", "O1/x"), "is not a whole number"),
        (("feeds/SUP999", "SKU0001"), "supplyloop trace supplier_replenishment SUP999/SKU0001"),
    ],
)
def test_trace_says_what_to_type_instead_of_an_unknown_mart_or_key(built, args, says):
    code, printed, err = _cli(built, *args)
    assert (code, printed) == (2, "")
    assert says in err


def _replenishment_key(store: LakeStore) -> tuple[str, str]:
    path = store.fs_path("marts/supplier_replenishment/part-0.parquet")
    return duckdb.execute(
        f"SELECT supplier_id, sku FROM read_parquet('{path}') WHERE open_production > 0 ORDER BY sku LIMIT 1"
    ).fetchone()


def test_trace_reads_an_s3_lake_the_same(built, s3_lake):
    for layer in ("landing", "bronze", "marts"):
        for f in built.list_files(layer, recursive=True):
            s3_lake.write_bytes(f.path, built.read_bytes(f.path))
    supplier, sku = _replenishment_key(built)
    local = trace(built, "supplier_replenishment", f"{supplier}/{sku}")
    remote = trace(s3_lake, "supplier_replenishment", f"{supplier}/{sku}")
    assert str(remote) == str(local)
    _assert_delivered_as_in_bronze(s3_lake, remote.origins)
