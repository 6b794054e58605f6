"""A closed-loop simulation run: history, then the same weeks under each policy, then the report.

The demo world trades from its preset's first day to the day before the simulation starts
under the demo's own planners (that history is what the pipeline and the min/max rule
learn from). From there each policy carries on from the same state and faces the same
consumers for ``weeks`` weeks, reviewing once a week. Results go to
``<lake>/simulation/<run>/``: ``summary.json`` and ``chart.svg``; the feed policy's world
(its landing files, bronze, marts and feeds) is in ``world/`` beside them.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from orchestration.lib.demo.factory import Factories
from orchestration.lib.demo.fields import rng_for
from orchestration.lib.demo.inventory import Warehouses, opening_stock
from orchestration.lib.demo.presets import preset_named
from orchestration.lib.demo.sales import DaySales, sell
from orchestration.lib.demo.world import World, build_world
from orchestration.lib.lake import LakeStore
from orchestration.lib.simulation.engine import DayOutcome, Loop
from orchestration.lib.simulation.pipeline import Feed, FeedLink
from orchestration.lib.simulation.policies import REVIEW_DAYS, MinMax, Oracle, Policy
from orchestration.lib.simulation.report import chart_svg, festival_weeks, figures, goal, table_lines, tally

SIMULATION_DIR = "simulation"
POLICIES = ("feed", "min_max", "oracle")
EQUAL_STOCK = "min_max_equal_stock"  # min/max with its levels raised to hold the feed's average stock
MIN_HISTORY_DAYS = 14


@dataclass(frozen=True)
class Spec:
    """What to simulate: which demo world, from when, for how long, under which policies."""

    preset: str = "small"
    seed: int = 7
    start: date | None = None  # a review day; by default the Monday five weeks before 11.11
    weeks: int = 8
    policies: tuple[str, ...] = POLICIES

    def first_day(self) -> date:
        preset = preset_named(self.preset)
        if self.start is not None:
            start = self.start
        else:
            festival = date(preset.end.year, 11, 11)
            start = festival - timedelta(days=35)
            start -= timedelta(days=start.weekday())
        earliest = preset.start + timedelta(days=MIN_HISTORY_DAYS)
        if start < earliest:
            raise ValueError(
                f"the simulation must start at least {MIN_HISTORY_DAYS} days after the {self.preset} preset's "
                f"first day {preset.start} (its history): use --start {earliest} or later"
            )
        return start


@dataclass
class Result:
    run: str
    summary: dict
    lines: list[str]
    summary_path: str
    chart_path: str


def simulate_loop(store: LakeStore, spec: Spec, run: str | None = None, say: Callable[[str], None] = print) -> Result:
    """Simulate ``spec`` and write its summary and chart under ``<lake>/simulation/<run>/``."""
    started = time.perf_counter()
    unknown = set(spec.policies) - set(POLICIES)
    if unknown:
        raise ValueError(f"unknown policies {sorted(unknown)}: choose from {', '.join(POLICIES)}")
    if spec.weeks < 1:
        raise ValueError("--weeks must be at least 1")
    start = spec.first_day()
    run = run or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = f"{SIMULATION_DIR}/{run}"
    if store.list_files(folder, recursive=True):
        raise ValueError(f"{store.uri(folder)} already holds a simulation: choose another --run, or remove that folder")
    world = build_world(preset_named(spec.preset), spec.seed)
    days = [start + timedelta(days=i) for i in range(REVIEW_DAYS * spec.weeks)]
    say(
        f"simulating {spec.preset} (seed {spec.seed}): history {world.preset.start} .. {start - timedelta(days=1)}, "
        f"then {spec.weeks} weeks {days[0]} .. {days[-1]} under {', '.join(spec.policies)}"
    )
    with tempfile.TemporaryDirectory(prefix="supplyloop-sim-") as scratch:
        link = None
        if "feed" in spec.policies:
            link = FeedLink(LakeStore(store.uri(f"{folder}/world"), endpoint=store.endpoint), Path(scratch), say)
        base, served = _history(world, start, link, say)
        sales = {day: sell(world, day, rng_for(world.seed, "sales", day)) for day in days}
        demand = _demand_lookup(world, sales)
        outcomes: dict[str, list[DayOutcome]] = {}
        labels: dict[str, str] = {}
        extra: dict[str, dict] = {}
        for name in spec.policies:
            policy = _policy(name, world, served, demand, link)
            labels[name] = policy.label
            policy_started = time.perf_counter()
            outcomes[name] = _weeks(base.fork(), policy, days, sales, say)
            extra[name] = {"seconds": round(time.perf_counter() - policy_started, 1)}
            if isinstance(policy, Feed):
                extra[name] |= {
                    "pipeline_runs": link.runs,
                    "failed_runs": link.failed_runs,
                    "feeds_held": policy.held,
                    "pipeline_log": link.keep_log(folder, store),
                }
        if "feed" in outcomes and "min_max" in outcomes:
            target = tally(world, outcomes["feed"]).stock_value.mean()
            policy, outcomes[EQUAL_STOCK] = _min_max_at(world, base, served, days, sales, target, say)
            labels[EQUAL_STOCK] = policy.label
            extra[EQUAL_STOCK] = {"levels_scale": round(policy.scale, 3)}
    festive = festival_weeks(days, REVIEW_DAYS)
    order = [n for n in ("feed", "min_max", EQUAL_STOCK, "oracle") if n in outcomes]
    tallies = {name: tally(world, outcomes[name]) for name in order}
    policies = {
        name: {
            "label": labels[name],
            "all": figures(t),
            "festival_weeks": figures(t, festive),
            "ordinary_weeks": figures(t, ~festive),
            **extra[name],
        }
        for name, t in tallies.items()
    }
    verdict = goal(policies)
    summary = {
        "run": run,
        "spec": {**asdict(spec), "start": start.isoformat()},
        "first_day": days[0].isoformat(),
        "last_day": days[-1].isoformat(),
        "review_every_days": REVIEW_DAYS,
        "festival_week_days": [d.isoformat() for d, f in zip(days, festive, strict=True) if f],
        "policies": policies,
        "goal": verdict,
        "daily": {
            name: {
                "stockout_days": t.stockout_cells.tolist(),
                "demand_units": t.demand_units.tolist(),
                "lost_units": t.lost_units.tolist(),
                "stock_value": [round(v, 2) for v in t.stock_value.tolist()],
            }
            for name, t in tallies.items()
        },
        "wall_seconds": round(time.perf_counter() - started, 1),
        "chart": "chart.svg",
    }
    title = f"Closed loop, {spec.preset} demo: {days[0]} .. {days[-1]}, weekly reviews"
    store.write_bytes(f"{folder}/chart.svg", chart_svg(tallies, labels, festive, title).encode("utf-8"))
    store.write_bytes(f"{folder}/summary.json", json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"))
    lines = table_lines(policies, labels) + ["", verdict["text"]]
    return Result(run, summary, lines, store.uri(f"{folder}/summary.json"), store.uri(f"{folder}/chart.svg"))


def _history(world: World, start: date, link: FeedLink | None, say) -> tuple[Loop, np.ndarray]:
    """The world's days before ``start`` under the demo's planners; the state they leave, and
    the units served per day and SKU (what a factory's own sales history shows)."""
    loop = Loop(world, Factories(world), Warehouses(world, opening_stock(world, rng_for(world.seed, "opening stock"))))
    days = [world.preset.start + timedelta(days=i) for i in range((start - world.preset.start).days)]
    if link is not None:
        link.deliver_master(world, days[-1])
    served = []
    for i, day in enumerate(days):
        released = loop.factories.plan(day, loop.warehouses.stock_position(), rng_for(world.seed, "planning", day))
        outcome, tables = loop.step(day, sell(world, day, rng_for(world.seed, "sales", day)), released)
        served.append((outcome.demand - outcome.lost).sum(axis=0))
        if link is not None:
            link.deliver(day, tables)
        if (i + 1) % 28 == 0 or i + 1 == len(days):
            say(f"history: {i + 1}/{len(days)} days ({day})")
    return loop, np.array(served)


def _demand_lookup(world: World, sales: dict[date, DaySales]) -> Callable[[date], np.ndarray]:
    """Per SKU, the units consumers ask for on a day: the simulated days' drawn orders, and
    beyond them (the oracle looks ahead) the same draw the day would get."""
    cache = {day: s.to_ship.sum(axis=(0, 2)) for day, s in sales.items()}

    def demand_on(day: date) -> np.ndarray:
        if day not in cache:
            cache[day] = sell(world, day, rng_for(world.seed, "sales", day)).to_ship.sum(axis=(0, 2))
        return cache[day]

    return demand_on


def _policy(name: str, world: World, served: np.ndarray, demand, link: FeedLink | None) -> Policy:
    if name == "feed":
        return Feed(world, link)
    if name == "min_max":
        return MinMax(world, served)
    return Oracle(world, demand)


def _min_max_at(world: World, base: Loop, served: np.ndarray, days, sales, target: float, say) -> tuple:
    """The min/max rule with both levels scaled (bisection) until its average stock value is at
    least ``target`` (within 1%): the baseline at the feed's stock."""

    def run(scale: float):
        policy = MinMax(world, served, scale)
        outcomes = _weeks(base.fork(), policy, days, sales, lambda _: None)
        return policy, outcomes, tally(world, outcomes).stock_value.mean()

    low, high = 1.0, 2.0
    best = run(high)
    while best[2] < target and high < 64:
        low, high = high, high * 2
        best = run(high)
    for _ in range(12):
        if best[2] <= target * 1.01:
            break
        middle = (low + high) / 2
        tried = run(middle)
        if tried[2] >= target:
            high, best = middle, tried
        else:
            low = middle
    say(f"min/max at the feed's average stock: levels x{best[0].scale:.2f} (¥{best[2]:,.0f} vs ¥{target:,.0f})")
    return best[0], best[1]


def _weeks(loop: Loop, policy: Policy, days: list[date], sales: dict[date, DaySales], say) -> list[DayOutcome]:
    outcomes = []
    for i, day in enumerate(days):
        released = []
        if i % REVIEW_DAYS == 0:
            released = loop.release(day, policy.order(day, loop))
        outcome, tables = loop.step(day, sales[day], released)
        policy.observe(day, tables)
        outcomes.append(outcome)
        if (i + 1) % REVIEW_DAYS == 0:
            week = outcomes[-REVIEW_DAYS:]
            say(
                f"{policy.name}: week {(i + 1) // REVIEW_DAYS}/{len(days) // REVIEW_DAYS} ({day}): "
                f"{sum(int((o.lost > 0).sum()) for o in week):,} stockout days, "
                f"{sum(int(o.lost.sum()) for o in week):,} units lost, "
                f"released {sum(int(o.released.sum()) for o in week):,} units"
            )
    return outcomes
