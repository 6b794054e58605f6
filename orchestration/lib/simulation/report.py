"""What each policy's weeks add up to: stockouts, lost sales, fill rate, stock held; the goal
line; a table for the console and the UI; a chart a planner reads at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

import numpy as np

from orchestration.lib.demo.seasons import outlook
from orchestration.lib.demo.world import World
from orchestration.lib.simulation.engine import DayOutcome

GOAL_CUT = 0.30  # the feed must cut stockout days by at least this much against min/max ...
GOAL_STOCK = 1.0  # ... at no more than this multiple of min/max's average stock value
COLORS = {"feed": "#1f77b4", "min_max": "#d62728", "min_max_equal_stock": "#ff7f0e", "oracle": "#2ca02c"}


@dataclass
class Tally:
    """A policy's days, summed per day (the chart) and per festival / ordinary week."""

    days: list[date]
    stockout_cells: np.ndarray  # per day: warehouse x SKU cells with unmet demand
    lost_units: np.ndarray
    lost_revenue: np.ndarray  # yuan at list price
    demand_units: np.ndarray
    stock_units: np.ndarray  # end of day
    stock_value: np.ndarray  # yuan at unit cost
    released_units: np.ndarray


def tally(world: World, outcomes: list[DayOutcome]) -> Tally:
    price = world.price_cents / 100.0
    cost = world.cost_cents / 100.0
    return Tally(
        days=[o.day for o in outcomes],
        stockout_cells=np.array([int((o.lost > 0).sum()) for o in outcomes]),
        lost_units=np.array([int(o.lost.sum()) for o in outcomes]),
        lost_revenue=np.array([float((o.lost.sum(axis=0) * price).sum()) for o in outcomes]),
        demand_units=np.array([int(o.demand.sum()) for o in outcomes]),
        stock_units=np.array([int(o.on_hand.sum()) for o in outcomes]),
        stock_value=np.array([float((o.on_hand.sum(axis=0) * cost).sum()) for o in outcomes]),
        released_units=np.array([int(o.released.sum()) for o in outcomes]),
    )


def festival_weeks(days: list[date], review_days: int) -> np.ndarray:
    """Per day: whether its review week holds a festival day (the shopping calendar's boost)."""
    weeks = np.arange(len(days)) // review_days
    festive = np.array([outlook(d).boost != 1.0 for d in days])
    return np.isin(weeks, np.unique(weeks[festive]))


def figures(t: Tally, mask: np.ndarray | None = None) -> dict:
    """The headline figures of a policy over the days ``mask`` selects (all by default)."""
    m = np.ones(len(t.days), bool) if mask is None else mask
    demand = int(t.demand_units[m].sum())
    lost = int(t.lost_units[m].sum())
    days = int(m.sum())
    return {
        "days": days,
        "stockout_days": int(t.stockout_cells[m].sum()),
        "lost_units": lost,
        "lost_revenue": round(float(t.lost_revenue[m].sum()), 2),
        "demand_units": demand,
        "fill_rate": round(1.0 - lost / demand, 4) if demand else None,
        "avg_stock_units": round(float(t.stock_units[m].mean()), 1) if days else None,
        "avg_stock_value": round(float(t.stock_value[m].mean()), 2) if days else None,
        "released_units": int(t.released_units[m].sum()),
    }


def goal(policies: dict[str, dict]) -> dict:
    """The feed against min/max: stockout days cut, at equal or lower average stock value.

    Against the rule as a factory sets it (``min_max``) and, when it was run, against the same
    rule with its levels raised until it holds at least the feed's average stock
    (``min_max_equal_stock``): a rule that holds less stock because it runs out is not
    "at equal stock", so the second comparison is the one that decides."""
    if "feed" not in policies or "min_max" not in policies:
        return {"met": None, "text": "goal: needs both the feed and the min/max policy"}
    feed = policies["feed"]["all"]
    versus = {
        name: _versus(feed, policies[name]["all"]) for name in ("min_max", "min_max_equal_stock") if name in policies
    }
    deciding = "min_max_equal_stock" if "min_max_equal_stock" in versus else "min_max"
    cut, stock = versus[deciding]
    met = cut >= GOAL_CUT and stock <= GOAL_STOCK
    text = (
        f"goal: the feed cuts stockout days by >= {GOAL_CUT:.0%} against min/max at equal or lower average stock"
        f" -> {'MET' if met else 'MISSED'}: stockout days {-cut:+.0%} against {policies[deciding]['label']}"
        f" (stock {stock:.2f}x its)"
    )
    if deciding != "min_max":
        cut0, stock0 = versus["min_max"]
        text += f"; {-cut0:+.0%} against {policies['min_max']['label']} (stock {stock0:.2f}x its)"
    return {
        "met": met,
        "against": deciding,
        "stockout_days_cut": round(cut, 4),
        "stock_value_ratio": round(stock, 4),
        "against_min_max": {
            "stockout_days_cut": round(versus["min_max"][0], 4),
            "stock_value_ratio": round(versus["min_max"][1], 4),
        },
        "target_cut": GOAL_CUT,
        "target_stock_ratio": GOAL_STOCK,
        "text": text,
    }


def _versus(feed: dict, base: dict) -> tuple[float, float]:
    """The share of the baseline's stockout days the feed avoids, and its stock as a multiple of the baseline's."""
    cut = 1.0 - feed["stockout_days"] / base["stockout_days"] if base["stockout_days"] else 0.0
    stock = feed["avg_stock_value"] / base["avg_stock_value"] if base["avg_stock_value"] else float("inf")
    return cut, stock


def table_lines(policies: dict[str, dict], labels: dict[str, str]) -> list[str]:
    """The policies side by side: over all days, festival weeks and ordinary weeks."""
    head = (
        f"{'policy':<24}{'weeks':<10}{'stockout days':>14}{'lost units':>12}{'lost revenue':>15}"
        f"{'fill rate':>11}{'avg stock':>12}{'avg stock value':>17}"
    )
    lines = [head, "-" * len(head)]
    for name, title, f in scoped_rows(policies):
        fill = f"{f['fill_rate']:.1%}" if f["fill_rate"] is not None else "-"
        lines.append(
            f"{labels[name]:<24}{title:<10}{f['stockout_days']:>14,}{f['lost_units']:>12,}"
            f"{'¥' + format(round(f['lost_revenue']), ','):>15}{fill:>11}{round(f['avg_stock_units']):>12,}"
            f"{'¥' + format(round(f['avg_stock_value']), ','):>17}"
        )
    return lines


def scoped_rows(policies: dict[str, dict]):
    """(policy, scope title, figures) over all days, then festival weeks, then ordinary weeks,
    leaving out a scope with no days."""
    for scope, title in (("all", "all"), ("festival_weeks", "festival"), ("ordinary_weeks", "ordinary")):
        for name, p in policies.items():
            if p[scope]["days"]:
                yield name, title, p[scope]


def chart_svg(tallies: dict[str, Tally], labels: dict[str, str], festive: np.ndarray, title: str) -> str:
    """Two panels over the simulated days, one line per policy: the stock held (value at cost)
    and the warehouse x SKU stockouts; festival weeks shaded."""
    width, height, left, right, top, panel, gap = 900, 520, 70, 20, 50, 190, 50
    days = next(iter(tallies.values())).days
    n = len(days)
    plot_w = width - left - right

    def x(i: float) -> float:
        return left + plot_w * (i / max(n - 1, 1))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    panels = (
        ("stock held at end of day (¥ thousand at cost)", lambda t: t.stock_value / 1000.0),
        ("warehouse x SKU stockouts per day", lambda t: t.stockout_cells.astype(float)),
    )
    for p, (name, series) in enumerate(panels):
        y0 = top + p * (panel + gap)
        values = {k: series(t) for k, t in tallies.items()}
        high = max(1.0, max(float(v.max()) for v in values.values()) * 1.1)

        def y(v: float, y0: int = y0, high: float = high) -> float:
            return y0 + panel - panel * (v / high)

        for i in np.flatnonzero(festive):
            x0, x1 = max(left, x(i - 0.5)), min(left + plot_w, x(i + 0.5))
            parts.append(f'<rect x="{x0:.1f}" y="{y0}" width="{x1 - x0:.1f}" height="{panel}" fill="#fdf1dc"/>')
        parts.append(f'<text x="{left}" y="{y0 - 8}" font-weight="bold">{escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel}" fill="none" stroke="#999"/>')
        for frac in (0.0, 0.5, 1.0):
            v = high * frac
            parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
        for key, v in values.items():
            points = " ".join(f"{x(i):.1f},{y(float(val)):.1f}" for i, val in enumerate(v))
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{COLORS.get(key, "#555")}" stroke-width="2"/>'
            )
        for i in range(0, n, 7):
            parts.append(f'<text x="{x(i):.1f}" y="{y0 + panel + 14}" text-anchor="middle">{days[i]:%m-%d}</text>')
    legend_y = height - 12
    step = plot_w // (len(tallies) + 1)
    for j, key in enumerate(tallies):
        lx = left + j * step
        parts.append(
            f'<line x1="{lx}" y1="{legend_y - 4}" x2="{lx + 24}" y2="{legend_y - 4}" '
            f'stroke="{COLORS.get(key, "#555")}" stroke-width="3"/>'
        )
        parts.append(f'<text x="{lx + 30}" y="{legend_y}">{escape(labels[key])}</text>')
    parts.append(
        f'<rect x="{left + len(tallies) * step}" y="{legend_y - 12}" width="16" height="12" fill="#fdf1dc" stroke="#ccc"/>'
        f'<text x="{left + len(tallies) * step + 22}" y="{legend_y}">festival weeks</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
