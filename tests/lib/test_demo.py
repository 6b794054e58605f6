"""The demo-data generator on the tiny preset: contract, determinism, dynamics, faults."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from orchestration.lib.demo import PRESETS, DemoResult, generate
from orchestration.lib.demo.generator import QUANTITY
from orchestration.lib.lake import LakeStore
from orchestration.lib.rules import REASON_CODES
from orchestration.lib.sources import load_sources

SOURCES = load_sources()
DAILY = [s.name for s in SOURCES.values() if s.is_daily]
MASTER = [s.name for s in SOURCES.values() if not s.is_daily]
TINY = PRESETS["tiny"]
DAYS = TINY.days
TIME_FORMATS = {  # how each daily source spells its event time
    "order_lines": "%Y-%m-%d %H:%M:%S",
    "live_sessions": "%Y-%m-%d %H:%M:%S",
    "production_output": "%Y/%m/%d %H:%M:%S",
    "machine_events": "%Y-%m-%dT%H:%M:%S+08:00",
    "stock_movements": "%Y-%m-%dT%H:%M:%S",
}


# -- one demo lake for the whole module ---------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[LakeStore, DemoResult]:
    store = LakeStore(str(tmp_path_factory.mktemp("demo")))
    return store, generate(store, preset="tiny", seed=7, faults=True)


@pytest.fixture(scope="module")
def store(demo) -> LakeStore:
    return demo[0]


@pytest.fixture(scope="module")
def truth(demo) -> dict:
    return demo[1].truth


def clean_path(source: str, day: date) -> str:
    pattern = SOURCES[source].files
    return f"landing/{source}/{pattern.replace('*', day.isoformat())}"


def read_rows(store: LakeStore, source: str, rel: str) -> list[dict]:
    """A landing file's rows under canonical names, values as the file holds them."""
    spec = SOURCES[source]
    data = store.read_bytes(rel)
    if spec.format == "csv":
        rows = list(
            csv.DictReader(io.StringIO(data.decode("utf-8-sig" if spec.encoding == "utf-8-sig" else spec.encoding)))
        )
    elif spec.format == "jsonl":
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    elif spec.format == "parquet":
        rows = pq.read_table(pa.BufferReader(data)).to_pylist()
    else:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        header, *values = list(book.worksheets[0].iter_rows(values_only=True))
        rows = [dict(zip(header, v)) for v in values]
    canonical = {h: c.name for c in spec.columns for h in c.headers}
    return [{canonical.get(k, k): v for k, v in row.items()} for row in rows]


def fault_rows(truth: dict, rel: str) -> set[int]:
    return {r for f in truth["faults"] if f["file"] == rel and f["rows"] for r in f["rows"]}


def clean_rows(store: LakeStore, truth: dict, source: str, day: date) -> list[dict]:
    """The clean rows of one day: its own file, without the rows a fault slipped in."""
    rel = clean_path(source, day)
    bad = fault_rows(truth, rel)
    return [row for n, row in enumerate(read_rows(store, source, rel), start=1) if n not in bad]


def all_clean_rows(store: LakeStore, truth: dict, source: str) -> dict[date, list[dict]]:
    return {day: clean_rows(store, truth, source, day) for day in DAYS}


# -- determinism ----------------------------------------------------------------------------


def lake_bytes(store: LakeStore) -> dict[str, bytes]:
    return {f.path: store.read_bytes(f.path) for f in store.list_files("", recursive=True)}


def test_same_seed_gives_byte_identical_files(store, tmp_path):
    again = LakeStore(str(tmp_path))
    generate(again, preset="tiny", seed=7, faults=True)
    first, second = lake_bytes(store), lake_bytes(again)
    assert sorted(first) == sorted(second)
    assert [p for p in first if first[p] != second[p]] == []


def test_another_seed_tells_another_story(store, tmp_path):
    other = LakeStore(str(tmp_path))
    generate(other, preset="tiny", seed=8)
    rel = clean_path("order_lines", date(2026, 11, 11))
    assert other.read_bytes(rel) != store.read_bytes(rel)


def test_faults_only_add_rows_and_files_to_the_clean_data(store, truth, tmp_path):
    clean = LakeStore(str(tmp_path))
    result = generate(clean, preset="tiny", seed=7, faults=False)
    assert result.truth["faults"] == []
    assert result.truth["clean"] == truth["clean"]
    for rel, data in lake_bytes(clean).items():
        if not rel.startswith("landing/"):
            continue
        bad = fault_rows(truth, rel)
        faulty = store.read_bytes(rel).splitlines(keepends=True)
        assert b"".join(line for n, line in enumerate(faulty) if n not in bad) == data, rel


# -- the contract of sources.yaml -------------------------------------------------------------


@pytest.mark.parametrize("source", DAILY)
def test_every_daily_source_has_one_file_per_day(store, source):
    names = {f.name for f in store.list_files(f"landing/{source}")}
    for day in DAYS:
        assert clean_path(source, day).rsplit("/", 1)[1] in names


@pytest.mark.parametrize("source", MASTER)
def test_master_data_is_one_snapshot_named_for_the_last_day(store, source):
    files = [f.name for f in store.list_files(f"landing/{source}")]
    assert files == [clean_path(source, TINY.end).rsplit("/", 1)[1]]


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_file_reads_with_its_declared_format_and_columns(store, truth, source):
    rel = clean_path(source, TINY.end if source in MASTER else DAYS[3])
    rows = read_rows(store, source, rel)
    assert rows, rel
    declared = [c.name for c in SOURCES[source].columns]
    assert list(rows[0]) == declared


def test_production_output_is_gb18030_with_chinese_headers(store):
    rel = clean_path("production_output", date(2026, 11, 11))
    table = pacsv.read_csv(pa.BufferReader(store.read_bytes(rel)), read_options=pacsv.ReadOptions(encoding="gb18030"))
    assert table.column_names == ["工厂编号", "产线编号", "商品编码", "生产时间", "良品数量", "废品数量", "批次号"]
    assert table.num_rows > 0
    with pytest.raises(UnicodeDecodeError):
        store.read_bytes(rel).decode("utf-8")


@pytest.mark.parametrize(
    "source, bom", [("stock_movements", True), ("partners", True), ("order_lines", False), ("suppliers", False)]
)
def test_utf8_csv_files_carry_a_bom_only_where_declared(store, source, bom):
    rel = clean_path(source, TINY.end if source in MASTER else DAYS[0])
    assert store.read_bytes(rel).startswith(b"\xef\xbb\xbf") is bom


def test_order_lines_have_english_headers(store):
    header = store.read_bytes(clean_path("order_lines", DAYS[0])).split(b"\n", 1)[0].decode()
    assert header == ",".join(c.name for c in SOURCES["order_lines"].columns)


def test_workbooks_have_chinese_headers_and_excel_dates(store, truth):
    products = openpyxl.load_workbook(io.BytesIO(store.read_bytes(clean_path("products", TINY.end))))
    assert [c.value for c in next(products.active.iter_rows(max_row=1))] == [
        "商品编码",
        "商品名称",
        "品类",
        "供应商编号",
        "单位成本",
        "销售单价",
        "交货周期天数",
        "最小起订量",
        "保质期天数",
    ]
    day = next(d for d in DAYS if truth["clean"]["work_orders"]["by_day"][d.isoformat()] > 0)
    book = openpyxl.load_workbook(io.BytesIO(store.read_bytes(clean_path("work_orders", day))))
    header, first = list(book.active.iter_rows(max_row=2))
    assert [c.value for c in header][:7] == ["工单号", "工厂编号", "商品编码", "下达时间", "计划数量", "交期", "状态"]
    released, due = first[3], first[5]
    assert released.is_date and isinstance(released.value, datetime) and released.value.date() == day
    assert due.is_date and due.number_format == "yyyy-mm-dd"


def test_stock_snapshots_are_parquet_with_native_types(store):
    table = pq.read_table(pa.BufferReader(store.read_bytes(clean_path("stock_snapshots", DAYS[0]))))
    assert table.schema.field("snapshot_date").type == pa.date32()
    for column in ("on_hand", "reserved", "in_transit"):
        assert table.schema.field(column).type == pa.int64()


@pytest.mark.parametrize("source", [s for s in DAILY if s in TIME_FORMATS])
def test_daily_files_hold_only_their_own_local_day(store, truth, source):
    column = SOURCES[source].event_time
    for day, rows in all_clean_rows(store, truth, source).items():
        for row in rows:
            assert datetime.strptime(row[column], TIME_FORMATS[source]).date() == day, (source, day, row)


def test_work_orders_and_snapshots_carry_their_own_day(store, truth):
    for day in DAYS:
        assert {r["released_at"].date() for r in clean_rows(store, truth, "work_orders", day)} <= {day}
        assert {r["snapshot_date"] for r in clean_rows(store, truth, "stock_snapshots", day)} == {day}


# -- the truth file -----------------------------------------------------------------------------


def test_truth_is_written_to_the_lake(store, truth, demo):
    assert demo[1].truth_path == "_demo/truth.json"
    assert json.loads(store.read_bytes("_demo/truth.json")) == truth
    assert (truth["preset"], truth["seed"], truth["start"], truth["end"]) == ("tiny", 7, "2026-10-28", "2026-11-14")
    assert set(truth["clean"]) == set(SOURCES)


@pytest.mark.parametrize("source", list(SOURCES))
def test_truth_clean_totals_equal_what_is_on_disk(store, truth, source):
    expected = truth["clean"][source]
    if source in MASTER:
        rows = {TINY.end: read_rows(store, source, clean_path(source, TINY.end))}
    else:
        rows = all_clean_rows(store, truth, source)
    assert expected["by_day"] == {d.isoformat(): len(r) for d, r in rows.items()}
    assert expected["rows"] == sum(len(r) for r in rows.values())
    if source in QUANTITY:
        assert expected["qty"] == sum(int(row[QUANTITY[source]]) for r in rows.values() for row in r)
    else:
        assert expected["qty"] is None


def test_tiny_sells_about_five_thousand_order_lines(truth):
    assert 4_000 <= truth["clean"]["order_lines"]["rows"] <= 6_000


def test_order_lines_target_scales_the_demand(tmp_path):
    result = generate(LakeStore(str(tmp_path)), preset="tiny", order_lines=1_000)
    assert 800 <= result.truth["clean"]["order_lines"]["rows"] <= 1_200


def test_an_unknown_preset_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ValueError, match="tiny, small, large"):
        generate(LakeStore(str(tmp_path)), preset="huge")


# -- believable dynamics ---------------------------------------------------------------------


def test_double_eleven_sells_several_times_a_normal_day(truth):
    by_day = truth["clean"]["order_lines"]["by_day"]
    normal = statistics.median(v for d, v in by_day.items() if d != "2026-11-11")
    assert by_day["2026-11-11"] >= 3 * normal


def test_inventory_identity_holds_exactly(store, truth):
    before: dict[tuple[str, str], int] = defaultdict(int)  # nothing before the opening receipt
    for day in DAYS:
        moved: dict[tuple[str, str], int] = defaultdict(int)
        for m in clean_rows(store, truth, "stock_movements", day):
            moved[(m["warehouse_id"], m["sku"])] += int(m["qty"])
        snapshot = {(s["warehouse_id"], s["sku"]): s for s in clean_rows(store, truth, "stock_snapshots", day)}
        assert set(moved) <= set(snapshot)
        for key, s in snapshot.items():
            assert s["on_hand"] == before[key] + moved[key], (day, key)
            assert 0 <= s["reserved"] <= s["on_hand"] and s["in_transit"] >= 0
        before = defaultdict(int, {k: s["on_hand"] for k, s in snapshot.items()})


def test_movement_signs_follow_their_type_and_transfers_balance(store, truth):
    for day, rows in all_clean_rows(store, truth, "stock_movements").items():
        transfers: dict[str, int] = defaultdict(int)
        for m in rows:
            qty = int(m["qty"])
            assert qty != 0
            if m["movement_type"] in ("receipt", "return"):
                assert qty > 0
            if m["movement_type"] == "shipment":
                assert qty < 0
            if m["movement_type"] == "transfer":
                transfers[m["sku"]] += qty
        assert all(v == 0 for v in transfers.values()), day


def test_in_transit_is_what_arrives_the_next_morning(store, truth):
    for day, after in zip(DAYS, DAYS[1:]):
        in_transit = sum(s["in_transit"] for s in clean_rows(store, truth, "stock_snapshots", day))
        arrived = sum(
            int(m["qty"]) for m in clean_rows(store, truth, "stock_movements", after) if m["movement_type"] == "receipt"
        )
        assert arrived == in_transit, after


def test_order_lines_number_from_one_and_keep_their_live_sessions_honest(store, truth):
    partners = {p["partner_id"]: p for p in read_rows(store, "partners", clean_path("partners", TINY.end))}
    for day, rows in all_clean_rows(store, truth, "order_lines").items():
        sessions = {s["live_session_id"]: s for s in clean_rows(store, truth, "live_sessions", day)}
        lines: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            lines[row["order_id"]].append(int(row["line_no"]))
            assert row["region"] == partners[row["partner_id"]]["region"]
            assert row["status"] in ("paid", "cancelled", "refunded")
            assert Decimal(row["unit_price"]).as_tuple().exponent == -2
            assert Decimal(row["discount"]).as_tuple().exponent == -2
            if row["live_session_id"]:
                session = sessions[row["live_session_id"]]
                assert session["partner_id"] == row["partner_id"]
                assert session["started_at"] <= row["ordered_at"] <= session["ended_at"]
        assert all(sorted(n) == list(range(1, len(n) + 1)) for n in lines.values()), day
    live_hosts = {s["partner_id"] for rows in all_clean_rows(store, truth, "live_sessions").values() for s in rows}
    assert all(partners[h]["partner_type"] == "live_stream" for h in live_hosts)


def test_a_line_that_is_down_produces_nothing_in_that_hour(store, truth):
    state: dict[str, str] = {}
    for day in DAYS:
        events = defaultdict(dict)
        for e in clean_rows(store, truth, "machine_events", day):
            events[e["line_id"]][int(e["event_at"][11:13])] = e["state"]
        hourly = {}
        for line in {*events, *state}:
            for hour in range(24):
                state[line] = events[line].get(hour, state.get(line, "idle"))
                hourly[(line, hour)] = state[line]
        for row in clean_rows(store, truth, "production_output", day):
            assert hourly[(row["line_id"], int(row["produced_at"][11:13]))] == "running", (day, row)


def test_work_orders_respect_minimum_order_quantity_and_lead_time(store, truth):
    products = {p["sku"]: p for p in read_rows(store, "products", clean_path("products", TINY.end))}
    orders = [o for rows in all_clean_rows(store, truth, "work_orders").values() for o in rows]
    assert orders
    for order in orders:
        product = products[order["sku"]]
        assert order["qty_planned"] % product["min_order_qty"] == 0
        assert order["due_date"].date() == order["released_at"].date() + timedelta(days=product["lead_time_days"])


# -- faults ---------------------------------------------------------------------------------


def faults_of(truth: dict, kind: str) -> dict:
    (fault,) = [f for f in truth["faults"] if f["kind"] == kind]
    assert date.fromisoformat(fault["day"]) in DAYS
    return fault


def test_every_kind_of_fault_is_there_once_with_a_known_reason(truth):
    kinds = [f["kind"] for f in truth["faults"]]
    assert sorted(kinds) == sorted(
        {
            "missing_key",
            "negative_quantity",
            "unknown_sku",
            "bad_value",
            "duplicate_delivery",
            "duplicate_rows",
            "late_file",
            "renamed_column",
            "zero_byte",
            "truncated",
            "undecodable",
        }
    )
    assert {f["expected_reason"] for f in truth["faults"]} - {None} <= set(REASON_CODES)


@pytest.mark.parametrize(
    "kind, check",
    [
        ("missing_key", lambda row: row["order_id"] == "" or row["sku"] == ""),
        ("negative_quantity", lambda row: int(row["qty"]) < 0),
        ("unknown_sku", lambda row: row["sku"] == "SKU9999"),
        ("bad_value", lambda row: row["qty"] == "abc" or row["ordered_at"] == "2026-13-45 25:00:00"),
    ],
)
def test_bad_rows_sit_where_the_truth_says_and_reuse_no_clean_key(store, truth, kind, check):
    fault = faults_of(truth, kind)
    rows = read_rows(store, "order_lines", fault["file"])
    bad = [rows[n - 1] for n in fault["rows"]]
    assert len(bad) >= 2 and all(check(row) for row in bad)
    clean_keys = {(r["order_id"], r["line_no"]) for n, r in enumerate(rows, 1) if n not in fault["rows"]}
    assert not {(r["order_id"], r["line_no"]) for r in bad} & clean_keys
    assert "SKU9999" not in {p["sku"] for p in read_rows(store, "products", clean_path("products", TINY.end))}


def test_a_resent_file_is_a_byte_identical_copy(store, truth):
    fault = faults_of(truth, "duplicate_delivery")
    assert fault["file"].endswith(f"order_lines_{fault['day']}_resend.csv") and fault["rows"] is None
    assert store.read_bytes(fault["file"]) == store.read_bytes(
        clean_path("order_lines", date.fromisoformat(fault["day"]))
    )


def test_a_second_part_repeats_clean_rows_of_its_day(store, truth):
    fault = faults_of(truth, "duplicate_rows")
    day = date.fromisoformat(fault["day"])
    assert fault["file"] == clean_path("order_lines", day).replace(".csv", "_part2.csv")
    assert fault["file"] > clean_path("order_lines", day)  # the clean file sorts, and wins, first
    repeated = read_rows(store, "order_lines", fault["file"])
    assert len(repeated) == len(fault["rows"]) and all(
        r in clean_rows(store, truth, "order_lines", day) for r in repeated
    )


def test_the_late_file_is_clean_and_written_last(store, truth):
    fault = faults_of(truth, "late_file")
    assert fault["rows"] is None and fault["expected_reason"] is None
    files = store.list_files("landing", recursive=True)
    late = next(f for f in files if f.path == fault["file"])
    assert all(late.mtime > f.mtime for f in files if f.path != late.path)


def test_a_renamed_quantity_column_arrives_in_an_extra_file(store, truth):
    fault = faults_of(truth, "renamed_column")
    assert fault["file"].endswith("_erp2.csv")
    header = store.read_bytes(fault["file"]).split(b"\n", 1)[0].decode().split(",")
    assert "quantity_pcs" in header and "qty" not in header
    day = date.fromisoformat(fault["day"])
    clean_orders = {r["order_id"] for r in clean_rows(store, truth, "order_lines", day)}
    assert not {r["order_id"] for r in read_rows(store, "order_lines", fault["file"])} & clean_orders


def test_a_zero_byte_file_is_empty(store, truth):
    fault = faults_of(truth, "zero_byte")
    assert fault["file"].startswith("landing/live_sessions/") and fault["file"].endswith("_b.jsonl")
    assert store.read_bytes(fault["file"]) == b""


def test_a_truncated_parquet_file_is_half_a_valid_one(store, truth):
    fault = faults_of(truth, "truncated")
    whole = store.read_bytes(clean_path("stock_snapshots", date.fromisoformat(fault["day"])))
    cut = store.read_bytes(fault["file"])
    assert whole.startswith(cut) and len(cut) == len(whole) // 2
    with pytest.raises((pa.ArrowInvalid, OSError)):
        pq.read_table(pa.BufferReader(cut))


def test_an_undecodable_file_fails_to_decode_as_gb18030(store, truth):
    fault = faults_of(truth, "undecodable")
    data = store.read_bytes(fault["file"])
    assert data.split(b"\n", 1)[0].decode("gb18030").startswith("工厂编号")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gb18030")


def test_no_clean_file_is_ever_empty(store):
    assert [f.path for f in store.list_files("landing", recursive=True) if f.size == 0 and "_b." not in f.name] == []


def test_a_lake_on_s3_gets_the_same_bytes(store, s3_lake):
    generate(s3_lake, preset="tiny", seed=7, faults=True)
    assert lake_bytes(s3_lake) == lake_bytes(store)


def test_each_lot_is_one_line_and_day_of_output_received_whole_the_next_morning(store):
    made, received = defaultdict(int), defaultdict(int)
    for day in DAYS:
        for row in read_rows(store, "production_output", clean_path("production_output", day)):
            line, stamp, _seq = row["lot_id"].rsplit("-", 2)
            assert (line, stamp) == (row["line_id"], day.strftime("%Y%m%d"))
            if day < DAYS[-1]:  # the last day's output arrives after the demo ends
                made[row["lot_id"]] += int(row["qty_good"])
        for row in read_rows(store, "stock_movements", clean_path("stock_movements", day)):
            if row["lot_id"]:
                assert row["movement_type"] == "receipt", row
                received[row["lot_id"]] += int(row["qty"])
    assert made and received == made


def test_the_suppliers_knob_grows_the_business_in_proportion_and_keeps_the_days_and_volume():
    from orchestration.lib.demo.presets import preset_named
    from orchestration.lib.demo.world import build_world

    tiny = preset_named("tiny")
    grown = tiny.with_suppliers(300)
    assert (grown.suppliers, grown.factories, grown.skus, grown.partners) == (300, 400, 1500, 4000)
    assert (grown.days, grown.order_lines) == (tiny.days, tiny.order_lines)
    assert tiny.with_suppliers(None) == tiny and tiny.with_suppliers(1).skus == tiny.skus  # never below the preset
    with pytest.raises(ValueError, match="at least 1"):
        tiny.with_suppliers(0)
    world = build_world(grown, seed=7)
    assert len(set(world.supplier_ids)) == 300 and set(world.factory_supplier) == set(range(300))  # each has a factory
    assert len(set(world.sku_supplier)) == 300  # and SKUs of its own
