"""The simulation's parts on the tiny world: lost sales, lead times, policies, the report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import numpy as np
import pyarrow.compute as pc
import pytest

from orchestration.lib.demo.fields import rng_for
from orchestration.lib.demo.presets import preset_named
from orchestration.lib.demo.sales import sell
from orchestration.lib.demo.world import build_world
from orchestration.lib.lake import LakeStore
from orchestration.lib.simulation.engine import served_lines
from orchestration.lib.simulation.policies import MinMax, Oracle, prebuild, whole_orders
from orchestration.lib.simulation.report import festival_weeks, figures, goal, tally
from orchestration.lib.simulation.run import Spec, _demand_lookup, _history, _weeks, simulate_loop

START = date(2026, 11, 11)


@pytest.fixture(scope="module")
def world():
    return build_world(preset_named("tiny"), 7)


def _cells(world, lines):
    """Units per warehouse x SKU cell of the lines that ship (not cancelled)."""
    ships = lines.filter(pc.not_equal(lines["status"], "cancelled"))
    partner = pc.index_in(ships["partner_id"], value_set=world.partner_array).to_numpy()
    sku = pc.index_in(ships["sku"], value_set=world.sku_array).to_numpy()
    out = np.zeros((len(world.warehouse_ids), len(world.sku_ids)), np.int64)
    np.add.at(out, (world.partner_warehouse[partner], sku), ships["qty"].to_numpy())
    return out


def test_lost_sales_leave_the_recorded_order_lines(world):
    sales = sell(world, START, rng_for(7, "sales", START))
    asked = _cells(world, sales.order_lines)
    lost = np.zeros_like(asked)
    cells = np.argwhere(asked > 0)[:5]
    for i, (w, k) in enumerate(cells):
        lost[w, k] = asked[w, k] if i % 2 else max(asked[w, k] // 2, 1)  # all, or part, of a cell
    served = served_lines(world, sales.order_lines, lost)
    assert (_cells(world, served) == asked - lost).all()
    cancelled = pc.equal(sales.order_lines["status"], "cancelled")
    assert pc.sum(cancelled).as_py() == pc.sum(pc.equal(served["status"], "cancelled")).as_py()
    assert served.schema == sales.order_lines.schema
    assert served_lines(world, sales.order_lines, np.zeros_like(asked)) is sales.order_lines


def test_a_work_order_waits_for_its_lead_time(world):
    base, _ = _history(world, START, None, lambda _: None)
    loop = base.fork()
    sku = int(np.argmin(world.lead_time))
    qty = np.zeros(len(world.sku_ids), np.int64)
    qty[sku] = int(world.min_order_qty[sku]) * 3
    before = loop.position()[sku]
    released = loop.release(START, qty)
    assert loop.position()[sku] == before + qty[sku]  # open work orders count in the position at once
    made_by = {}
    for i in range(int(world.lead_time[sku]) + 6):
        day = START + timedelta(days=i)
        outcome, tables = loop.step(day, sell(world, day, rng_for(7, "sales", day)), released if i == 0 else [])
        made_by[day] = outcome.made[sku]
        if i == 0:
            assert tables["work_orders"].num_rows == 1
            assert tables["work_orders"]["qty_planned"][0].as_py() == qty[sku]
    first = min((d for d, made in made_by.items() if made > 0), default=None)
    assert first is not None and first >= START + timedelta(days=int(world.lead_time[sku]) - 1)
    # the same state forked twice gives the same days: policies start level
    assert base.fork().position().tolist() == base.fork().position().tolist()


def test_orders_are_whole_minimum_orders():
    assert whole_orders(np.array([0.0, -5.0, 1.0, 50.0, 51.0]), np.array([50, 50, 50, 50, 50])).tolist() == [
        0,
        0,
        50,
        50,
        100,
    ]


def test_min_max_orders_only_under_its_reorder_point(world):
    base, served = _history(world, START, None, lambda _: None)
    policy = MinMax(world, served)
    loop = base.fork()
    qty = policy.order(START, loop)
    position = loop.position()
    assert (qty[position >= policy.reorder_point] == 0).all()
    assert (qty % np.maximum(world.min_order_qty, 1) == 0).all()
    under = position < policy.reorder_point
    assert (position[under] + qty[under] >= policy.order_up_to[under]).all()


def test_the_oracle_builds_ahead_of_weeks_its_lines_cannot_make():
    world = build_world(preset_named("tiny"), 7)
    lead = world.lead_time.astype(np.int64)
    days = int(lead.max()) + 7 * 7
    flat = np.full((days, len(world.sku_ids)), 1.0)
    assert prebuild(world, np.cumsum(flat, axis=0), lead).sum() == 0  # a trickle fits every week
    spike = flat.copy()
    spike[int(lead.max()) + 20] = world.line_rate[world.sku_line] * 16 * 7 * 3  # three weeks of capacity in a day
    extra = prebuild(world, np.cumsum(spike, axis=0), lead)
    assert extra.sum() > 0 and (extra >= 0).all()


def test_policies_face_the_same_consumers(world):
    base, served = _history(world, START, None, lambda _: None)
    days = [START + timedelta(days=i) for i in range(7)]
    sales = {d: sell(world, d, rng_for(7, "sales", d)) for d in days}
    runs = {
        "min_max": _weeks(base.fork(), MinMax(world, served), days, sales, lambda _: None),
        "oracle": _weeks(base.fork(), Oracle(world, _demand_lookup(world, sales)), days, sales, lambda _: None),
    }
    for a, b in zip(runs["min_max"], runs["oracle"], strict=True):
        assert (a.demand == b.demand).all()
        assert (a.lost >= 0).all() and (b.lost >= 0).all()
    t = tally(world, runs["oracle"])
    f = figures(t)
    assert f["demand_units"] == sum(int(o.demand.sum()) for o in runs["oracle"])
    assert f["fill_rate"] == pytest.approx(1 - f["lost_units"] / f["demand_units"], abs=1e-4)


def test_goal_needs_fewer_stockouts_and_no_more_stock():
    def policy(stockouts, stock, label="min/max"):
        return {"label": label, "all": {"stockout_days": stockouts, "avg_stock_value": stock}}

    assert goal({"feed": policy(60, 100.0), "min_max": policy(100, 100.0)})["met"] is True
    assert goal({"feed": policy(71, 90.0), "min_max": policy(100, 100.0)})["met"] is False  # cut only 29%
    assert goal({"feed": policy(10, 101.0), "min_max": policy(100, 100.0)})["met"] is False  # more stock
    assert goal({"min_max": policy(100, 100.0)})["met"] is None
    # a min/max that holds little because it runs out: the one at the feed's stock decides
    starved = {"feed": policy(60, 150.0), "min_max": policy(200, 100.0)}
    assert goal(starved)["met"] is False
    verdict = goal({**starved, "min_max_equal_stock": policy(100, 151.0, "min/max x1.5")})
    assert verdict["met"] is True and verdict["against"] == "min_max_equal_stock"
    assert verdict["against_min_max"] == {"stockout_days_cut": 0.7, "stock_value_ratio": 1.5}
    assert "-40% against min/max x1.5" in verdict["text"]


def test_festival_weeks_are_whole_review_weeks():
    days = [date(2026, 11, 16) + timedelta(days=i) for i in range(21)]  # 11-16 .. 12-06: 12.12 is later
    assert festival_weeks(days, 7).tolist() == [False] * 21
    days = [date(2026, 11, 9) + timedelta(days=i) for i in range(14)]
    assert festival_weeks(days, 7).tolist() == [True] * 7 + [False] * 7  # 11.11 and its tail in week one


def test_a_start_without_history_is_refused():
    with pytest.raises(ValueError, match="--start 2026-11-11 or later"):
        Spec(preset="tiny", start=date(2026, 11, 1)).first_day()
    assert Spec(preset="small").first_day() == date(2026, 10, 5)  # a Monday, five weeks before 11.11


def test_min_max_and_oracle_alone_write_their_summary_and_chart(tmp_path):
    store = LakeStore(str(tmp_path / "lake"))
    spec = Spec(preset="tiny", start=START, weeks=1, policies=("min_max", "oracle"))
    result = simulate_loop(store, spec, run="r1", say=lambda _: None)
    assert sorted(f.path for f in store.list_files("", recursive=True)) == [
        "simulation/r1/chart.svg",
        "simulation/r1/summary.json",
    ]
    svg = ET.fromstring(store.read_bytes("simulation/r1/chart.svg"))
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 4  # two panels, two policies
    assert result.summary["goal"]["met"] is None
    assert set(result.summary["policies"]) == {"min_max", "oracle"}
    with pytest.raises(ValueError, match="already holds a simulation: choose another --run"):
        simulate_loop(store, spec, run="r1", say=lambda _: None)
