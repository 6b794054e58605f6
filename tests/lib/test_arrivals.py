"""The deliveries ledger and the late or missing deliveries read from it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
import yaml

from orchestration.lib.arrivals import SCHEMA, Lapse, expected_file, lapses, ledger_path, write_ledger
from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import SourceConfigError, load_sources, parse_sources

MES = load_sources()["production_output"]
DAY = date(2026, 10, 20)


def _ledger(store: LakeStore, day: date, rows: list[tuple[str, str | None, datetime | None, int]]) -> None:
    """One ledger day of production_output: (file, factory, arrived_at, accepted rows)."""
    table = pa.Table.from_pylist(
        [
            {
                "source": MES.name,
                "business_day": day,
                "file": name,
                "deliverer_column": "factory_id",
                "deliverer": who,
                "arrived_at": arrived,
                "due_at": MES.due_at(day),
                "file_bytes": 100,
                "file_status": "loaded",
                "accepted": accepted,
                "quarantined": 0,
            }
            for name, who, arrived, accepted in rows
        ],
        schema=SCHEMA,
    )
    write_ledger(store, MES, day, table)


def _owners(store: LakeStore) -> None:
    store.write_parquet(
        "bronze/factories/part-0.parquet",
        pa.table({"factory_id": ["F1", "F2"], "supplier_id": ["S1", "S2"]}),
    )


def _on_time(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)  # 02:00 the next day in Shanghai


def test_a_days_files_are_due_at_deliver_by_the_next_day_in_the_sources_time_zone():
    assert MES.deliver_by == "06:00"
    assert MES.due_at(DAY) == datetime(2026, 10, 20, 22, 0, tzinfo=UTC)  # 06:00 on 10-21 in Shanghai
    assert replace(MES, timezone="UTC", deliver_by="23:30").due_at(DAY) == datetime(2026, 10, 21, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["6am", "25:00", "6:00"])
def test_a_deadline_that_is_no_time_of_day_is_refused_with_the_form_to_use(value):
    source = yaml.safe_load((load_sources.__globals__["SOURCES_FILE"]).read_text())["sources"]["production_output"]
    with pytest.raises(SourceConfigError, match="deliver_by .* as HH:MM"):
        parse_sources({"sources": {"production_output": {**source, "deliver_by": value}}})


def test_the_rows_of_a_source_name_their_deliverer_by_the_contracts_references():
    sources = load_sources()
    assert sources["production_output"].deliverer == "factory_id"
    assert sources["work_orders"].deliverer == "factory_id"
    assert sources["order_lines"].deliverer is None  # the platform's own channel exports


def test_a_factory_with_files_of_its_own_is_missing_when_none_came(lake):
    _owners(lake)
    for back in range(1, 4):
        day = date.fromordinal(DAY.toordinal() - back)
        _ledger(lake, day, [(f"po_F1_{day}.csv", "F1", _on_time(day), 5), (f"po_F2_{day}.csv", "F2", _on_time(day), 5)])
    _ledger(lake, DAY, [(f"po_F1_{DAY}.csv", "F1", _on_time(DAY), 5)])
    (lapse,) = lapses(lake, MES, DAY)
    assert (lapse.kind, lapse.supplier_id, lapse.factory_id) == ("missing", "S2", "F2")
    assert (
        lapse.expected_file == expected_file(MES, DAY) == "landing/production_output/production_output_2026-10-20.csv"
    )
    assert "supplier S2 (factory F2)" in lapse.describe() and lapse.expected_file in lapse.describe()


def test_a_shared_file_without_a_factorys_rows_is_no_lapse_but_no_file_at_all_is(lake):
    _owners(lake)
    before = date.fromordinal(DAY.toordinal() - 1)
    _ledger(lake, before, [("po.csv", "F1", _on_time(before), 5), ("po.csv", "F2", _on_time(before), 5)])
    _ledger(lake, DAY, [("po.csv", "F1", _on_time(DAY), 5)])
    assert lapses(lake, MES, DAY) == []  # F2's line did not run: the one export held no row of it
    _ledger(lake, DAY, [])
    assert {(x.factory_id, x.kind) for x in lapses(lake, MES, DAY)} == {("F1", "missing"), ("F2", "missing")}


def test_a_file_after_the_deadline_is_late_by_the_time_it_arrived(lake):
    _owners(lake)
    late = datetime(2026, 10, 21, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, due 06:00
    _ledger(lake, DAY, [("po_F1.csv", "F1", late, 5), ("po_F2.csv", "F2", _on_time(DAY), 5)])
    (lapse,) = lapses(lake, MES, DAY)
    assert isinstance(lapse, Lapse) and (lapse.kind, lapse.factory_id, lapse.arrived_at) == ("late", "F1", late)
    assert "arrived 3h30m late" in lapse.describe() and "landing/production_output/po_F1.csv" in lapse.describe()


def test_ingesting_a_day_writes_its_ledger_with_every_row_counted_per_factory(lake):
    from orchestration.lib.demo import generate
    from orchestration.lib.ingest import ingest_day, ingest_snapshot

    generate(lake, preset="tiny", seed=3)
    sources = load_sources()
    for name in ("suppliers", "factories", "products"):
        ingest_snapshot(lake, sources[name])
    day = date(2026, 11, 2)
    result = ingest_day(lake, MES, day)
    ledger = lake.read_table(ledger_path(MES, day))
    assert sum(ledger.column("accepted").to_pylist()) == result.accepted
    assert sum(ledger.column("quarantined").to_pylist()) == result.quarantined
    bronze = lake.read_table(f"bronze/production_output/day={day}")
    per_factory = {
        f: bronze.column("factory_id").to_pylist().count(f) for f in set(bronze.column("factory_id").to_pylist())
    }
    assert {r["deliverer"]: r["accepted"] for r in ledger.to_pylist() if r["deliverer"]} == per_factory
    arrived = ledger.column("arrived_at").to_pylist()[0]
    assert arrived.date() == date(2026, 11, 2)  # the demo's file came the night after its day (UTC evening)
    assert ingest_day(lake, MES, day).accepted == result.accepted  # again: the same ledger, rewritten whole
    assert lake.read_table(ledger_path(MES, day)).equals(ledger)
