"""Censored demand, built for real: a tiny lake whose best seller runs out of stock for its
last days of history, selling a tenth of its usual; the forecast's level is not dragged down,
because the stockout days are left out of its fit (int_demand_stockout_days_flagged)."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from orchestration.cli import materialize_all
from orchestration.defs.resources import Lake
from orchestration.defs.transform.assets import supply_demand_marts
from orchestration.defs.transform.project import dbt_cli
from orchestration.lib.demo import generate
from orchestration.lib.lake import LakeStore

pytestmark = pytest.mark.slow

OUT_DAYS = 6  # the last days of history the SKU is out of stock


def _build(store: LakeStore) -> None:
    result = dg.materialize(
        [supply_demand_marts],
        resources={"lake": Lake(root=store.root), "dbt": dbt_cli()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success


def _sku_level(store: LakeStore, sku: str) -> float:
    forecast = store.read_table("marts/demand_forecast/part-0.parquet")
    rows = forecast.filter(pc.and_(pc.equal(forecast["sku"], sku), pc.equal(forecast["horizon_day"], 1)))
    return pc.sum(rows["level_units"]).as_py()  # the SKU's level: its regions' levels add up to it


def _rewrite(store: LakeStore, entity: str, day: str, change) -> None:
    rel = f"bronze/{entity}/day={day}/part-0.parquet"
    store.write_bytes(rel, _parquet(change(store.read_table(rel))))


def _parquet(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    store = LakeStore(str(tmp_path_factory.mktemp("stockouts") / "lake"))
    generate(store, preset="tiny")
    materialize_all(store, instance=dg.DagsterInstance.ephemeral())
    backtest = store.read_table("marts/forecast_backtest/part-0.parquet").to_pylist()
    best = max((r for r in backtest if r["level"] == "sku"), key=lambda r: r["actual_units"])["sku"]
    days = sorted(
        f.path.split("day=")[1].split("/")[0]
        for f in store.list_files("bronze/order_lines", "*.parquet", recursive=True)
    )
    return store, best, days[-OUT_DAYS:], _sku_level(store, best)


def _sell_a_tenth(sku: str):
    def change(lines: pa.Table) -> pa.Table:
        of_sku = pc.equal(lines["sku"], sku)
        index = pa.array(range(lines.num_rows))
        keep = pc.or_(pc.invert(of_sku), pc.equal(pc.bit_wise_and(index, 7), 0))  # 1 line in 8 of the SKU's
        return lines.filter(keep)

    return change


def _stock(sku: str, out: bool):
    """The SKU's stock all reserved (nothing available to sell), or none of it reserved; on
    hand stays as its movements left it, so the stock flows still add up."""

    def change(snapshots: pa.Table) -> pa.Table:
        of_sku = pc.equal(snapshots["sku"], sku)
        reserved = snapshots["on_hand"] if out else pc.multiply(snapshots["reserved"], 0)
        index = snapshots.schema.get_field_index("reserved")
        return snapshots.set_column(index, "reserved", pc.if_else(of_sku, reserved, snapshots["reserved"]))

    return change


def test_a_stockout_does_not_teach_the_forecast_that_demand_fell(lake):
    store, sku, out_days, level_before = lake
    for day in out_days:
        _rewrite(store, "order_lines", day, _sell_a_tenth(sku))
        _rewrite(store, "stock_snapshots", day, _stock(sku, out=True))  # nothing available anywhere
    _build(store)
    flagged = store.read_table("marts/demand_forecast/part-0.parquet")
    left_out = pc.max(flagged.filter(pc.equal(flagged["sku"], sku))["stockout_days_left_out"]).as_py()
    level_out_of_stock = _sku_level(store, sku)

    # the same low sales with stock on the shelves: demand did fall, and the level follows it
    for day in out_days:
        _rewrite(store, "stock_snapshots", day, _stock(sku, out=False))
    _build(store)
    level_in_stock = _sku_level(store, sku)

    assert left_out == OUT_DAYS
    # not dragged down (it rests on the days before, weighted to the latest of them)
    assert 0.85 * level_before <= level_out_of_stock <= 1.5 * level_before
    assert level_in_stock < 0.8 * level_before
