"""One day of channel-partner sales: orders, their lines, and live-stream sessions.

Everything is drawn as whole numpy arrays per day (no loop per order line), so a day of
11.11 with hundreds of thousands of lines costs about as much as a quiet Tuesday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from orchestration.lib.demo.fields import day_ids, local_times, money
from orchestration.lib.demo.seasons import Outlook, outlook
from orchestration.lib.demo.world import CANCEL_CHANCE, EXTRA_UNITS, LIVE_EXTRA_UNITS, World

STATUSES = ("paid", "cancelled", "refunded")
PAID, CANCELLED, REFUNDED = range(3)
LINES_PER_ORDER = (np.array([1, 2, 3]), np.array([0.62, 0.27, 0.11]))
LIVE_LINES_PER_ORDER = (np.array([1, 2]), np.array([0.85, 0.15]))
WAVE_CUTOFFS = np.array([10 * 3600, 16 * 3600])  # orders before 10:00 ship at 10:00, before 16:00 at 16:00
WAVES = 3  # the third "wave": orders after 16:00 wait for tomorrow's first wave

SESSION_STARTS = (np.array([10, 14, 19, 20, 21]), np.array([0.10, 0.15, 0.30, 0.30, 0.15]))
LAST_SESSION_SECOND = 23 * 3600 + 59 * 60  # sessions end by 23:59, on the day they start
MAX_FEATURED = 8
REFUND_CHANCE, LIVE_REFUND_CHANCE, LIVE_CANCEL_CHANCE = 0.025, 0.08, 0.05
LIVE_PRICE_FACTOR = 0.92


@dataclass
class Sessions:
    """The day's live-stream sessions and the SKUs each one features."""

    host: np.ndarray
    start: np.ndarray  # seconds since local midnight
    end: np.ndarray
    viewers: np.ndarray
    featured: np.ndarray  # (sessions, MAX_FEATURED) SKU indices, -1 padded
    featured_count: np.ndarray

    def __len__(self) -> int:
        return len(self.host)


@dataclass
class Orders:
    """Order headers: when, who, and (for live sales) which session and product slot."""

    seconds: np.ndarray
    partner: np.ndarray
    session: np.ndarray  # -1 outside live sessions
    slot: np.ndarray  # which featured product the order came in on
    lines: np.ndarray

    @staticmethod
    def concat(parts: list[Orders]) -> Orders:
        merged = Orders(*(np.concatenate([getattr(p, f) for p in parts]) for f in Orders.__dataclass_fields__))
        order = np.argsort(merged.seconds, kind="stable")
        return Orders(*(getattr(merged, f)[order] for f in Orders.__dataclass_fields__))


@dataclass
class DaySales:
    """A day of sales as files, plus what the warehouses must do about it."""

    order_lines: pa.Table
    live_sessions: pa.Table
    to_ship: np.ndarray  # (warehouses, skus, WAVES) units of paid and refunded lines
    refunded: np.ndarray  # (warehouses, skus) units refunded (goods come back later)
    orders: int


def sell(world: World, day: date, rng: np.random.Generator) -> DaySales:
    """Draw the day's orders around the expected demand, with live-session bursts."""
    look = outlook(day)
    expected = world.expected_lines(day)
    sessions = _sessions(world, look, rng)
    live_lines = expected * look.live_share if len(sessions) else 0.0
    orders = Orders.concat(
        [
            _regular_orders(world, look, expected - live_lines, rng),
            _live_orders(sessions, live_lines, rng),
        ]
    )
    return _lines(world, day, look, orders, sessions, rng)


# -- who buys when ----------------------------------------------------------------------


def _sessions(world: World, look: Outlook, rng: np.random.Generator) -> Sessions:
    """A few sessions a day by the best-known hosts, many more around festivals."""
    hosts = world.host_ids
    if not len(hosts):
        return Sessions(
            *(np.zeros(0, np.int64) for _ in range(4)), np.zeros((0, MAX_FEATURED), np.int64), np.zeros(0, np.int64)
        )
    expected = max(2.0, 0.2 * len(hosts)) * look.boost**0.6
    count = min(len(hosts), max(1, int(rng.poisson(expected))))  # at least one session every day
    fame = world.partner_fame[hosts]
    host = rng.choice(hosts, count, replace=False, p=fame / fame.sum())
    start = rng.choice(SESSION_STARTS[0], count, p=SESSION_STARTS[1]) * 3600 + rng.choice([0, 1800], count)
    end = np.minimum(start + rng.integers(60, 241, count) * 60, LAST_SESSION_SECOND)
    viewers = np.round(world.partner_fame[host] * 8000 * rng.lognormal(0, 0.4, count) * look.boost**0.5)
    featured_count = np.minimum(rng.integers(3, MAX_FEATURED + 1, count), len(world.sku_ids))
    featured = _featured(world.sku_share(look.day), featured_count, rng)
    order = np.lexsort((host, start))
    return Sessions(
        host[order], start[order], end[order], viewers[order].astype(np.int64), featured[order], featured_count[order]
    )


def _featured(share: np.ndarray, count: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The SKUs each session pushes: popular ones more likely, none twice (Gumbel top-k)."""
    with np.errstate(divide="ignore"):
        keys = np.log(share)[None, :] + rng.gumbel(size=(len(count), len(share)))
    top = min(MAX_FEATURED, len(share))
    best = np.argpartition(-keys, top - 1, axis=1)[:, :top]
    best = np.take_along_axis(best, np.argsort(-np.take_along_axis(keys, best, axis=1), axis=1), axis=1)
    best = np.pad(best, ((0, 0), (0, MAX_FEATURED - top)), constant_values=-1)
    return np.where(np.arange(MAX_FEATURED)[None, :] < count[:, None], best, -1)


def _regular_orders(world: World, look: Outlook, lines: float, rng: np.random.Generator) -> Orders:
    n = int(rng.poisson(max(lines, 0.0) / float(LINES_PER_ORDER[0] @ LINES_PER_ORDER[1])))
    hour = rng.choice(24, n, p=look.hours)
    return Orders(
        seconds=hour * 3600 + rng.integers(0, 3600, n),
        partner=rng.choice(len(world.partner_ids), n, p=world.regular_partner_p),
        session=np.full(n, -1, np.int64),
        slot=np.zeros(n, np.int64),
        lines=rng.choice(LINES_PER_ORDER[0], n, p=LINES_PER_ORDER[1]),
    )


def _live_orders(sessions: Sessions, lines: float, rng: np.random.Generator) -> Orders:
    """Orders pour in while each featured product is on screen: bursts inside the session."""
    if not len(sessions):
        return Orders(*(np.zeros(0, np.int64) for _ in range(5)))
    per_order = float(LIVE_LINES_PER_ORDER[0] @ LIVE_LINES_PER_ORDER[1])
    counts = rng.poisson(lines * sessions.viewers / max(sessions.viewers.sum(), 1) / per_order)
    session = np.repeat(np.arange(len(sessions)), counts)
    m = sessions.featured_count[session]
    slot = np.minimum((rng.random(len(session)) * m).astype(np.int64), m - 1)
    start, end = sessions.start[session], sessions.end[session]
    length = end - start
    center = start + (slot + 0.5) / m * length
    seconds = np.clip(np.round(center + rng.normal(0, 1, len(session)) * length / m / 4), start, end - 1)
    return Orders(
        seconds=seconds.astype(np.int64),
        partner=sessions.host[session],
        session=session,
        slot=slot,
        lines=rng.choice(LIVE_LINES_PER_ORDER[0], len(session), p=LIVE_LINES_PER_ORDER[1]),
    )


# -- what they buy ----------------------------------------------------------------------


def _lines(
    world: World, day: date, look: Outlook, orders: Orders, sessions: Sessions, rng: np.random.Generator
) -> DaySales:
    of = np.repeat(np.arange(len(orders.seconds)), orders.lines)
    first = np.cumsum(orders.lines) - orders.lines
    line_no = np.arange(len(of)) - first[of] + 1
    session = orders.session[of]
    live = session >= 0
    partner = orders.partner[of]
    sku = _skus(world, day, orders, of, line_no, sessions, rng)
    qty = 1 + rng.poisson(np.where(live, LIVE_EXTRA_UNITS, EXTRA_UNITS[world.partner_type[partner]]))
    price = world.price_cents[sku] * look.price_factor * np.where(live, LIVE_PRICE_FACTOR, 1.0)
    moved = world.price_factor(day)
    if moved is not None:  # a variant's promotions and price changes
        price = price * moved[sku]
    price = np.round(price * (1 + rng.normal(0, 0.015, len(of)))).astype(np.int64)
    discounted = rng.random(len(of)) < np.where(live, 0.6, look.discount_chance)
    discount = np.where(discounted, np.round(qty * price * rng.uniform(0.03, 0.2, len(of))), 0).astype(np.int64)
    status = _statuses(look, orders, of, live, rng)
    seconds = orders.seconds[of]
    session_ids = day_ids("LS", day, np.arange(1, len(sessions) + 1), 3)
    table = pa.table(
        {
            "order_id": day_ids("O", day, of + 1, 6),
            "line_no": pa.array(line_no, pa.int64()),
            "ordered_at": local_times(day, seconds, "plain"),
            "partner_id": world.partner_array.take(pa.array(partner)),
            "sku": world.sku_array.take(pa.array(sku)),
            "qty": pa.array(qty, pa.int64()),
            "unit_price": money(price),
            "discount": money(discount),
            "region": world.partner_region_array.take(pa.array(partner)),
            "warehouse_id": world.warehouse_array.take(pa.array(world.partner_warehouse[partner])),
            "live_session_id": session_ids.take(pa.array(session, mask=~live)),
            "status": pa.array(STATUSES).take(pa.array(status)),
        }
    )
    to_ship, refunded = _warehouse_work(world, partner, sku, qty, seconds, status)
    return DaySales(table, _session_table(world, day, sessions, session_ids), to_ship, refunded, len(orders.seconds))


def _skus(
    world: World,
    day: date,
    orders: Orders,
    of: np.ndarray,
    line_no: np.ndarray,
    sessions: Sessions,
    rng: np.random.Generator,
) -> np.ndarray:
    """Popular SKUs more often; in a live session, the products the host is showing."""
    skus = len(world.sku_ids)
    share = world.sku_share(day)
    sku = rng.choice(skus, len(of), p=share)
    repeat = (line_no > 1) & (sku == np.roll(sku, 1))
    sku[repeat] = rng.choice(skus, int(repeat.sum()), p=share)  # a second line is usually another SKU
    session = orders.session[of]
    live = np.flatnonzero(session >= 0)
    if live.size:
        s = session[live]
        slot = (orders.slot[of][live] + line_no[live] - 1) % sessions.featured_count[s]
        sku[live] = sessions.featured[s, slot]
    return sku


def _statuses(look: Outlook, orders: Orders, of: np.ndarray, live: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole orders get cancelled before shipping; single lines get refunded after."""
    order_live = orders.session >= 0
    cancelled = (rng.random(len(orders.seconds)) < np.where(order_live, LIVE_CANCEL_CHANCE, CANCEL_CHANCE))[of]
    refund_chance = np.where(live, LIVE_REFUND_CHANCE, REFUND_CHANCE) * (1.5 if look.boost > 2 else 1.0)
    refunded = ~cancelled & (rng.random(len(of)) < refund_chance)
    return np.where(cancelled, CANCELLED, np.where(refunded, REFUNDED, PAID))


def _warehouse_work(
    world: World, partner: np.ndarray, sku: np.ndarray, qty: np.ndarray, seconds: np.ndarray, status: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Units each warehouse must ship per wave, and units refunded, by SKU."""
    w, k = len(world.warehouse_ids), len(world.sku_ids)
    cell = world.partner_warehouse[partner] * k + sku
    wave = np.searchsorted(WAVE_CUTOFFS, seconds, side="right")
    ships = status != CANCELLED
    to_ship = np.bincount((cell * WAVES + wave)[ships], weights=qty[ships], minlength=w * k * WAVES)
    back = status == REFUNDED
    refunded = np.bincount(cell[back], weights=qty[back], minlength=w * k)
    return to_ship.astype(np.int64).reshape(w, k, WAVES), refunded.astype(np.int64).reshape(w, k)


def _session_table(world: World, day: date, sessions: Sessions, ids: pa.Array) -> pa.Table:
    return pa.table(
        {
            "live_session_id": ids,
            "partner_id": world.partner_array.take(pa.array(sessions.host, pa.int64())),
            "started_at": local_times(day, sessions.start, "plain"),
            "ended_at": local_times(day, sessions.end, "plain"),
            "peak_viewers": pa.array(sessions.viewers, pa.int64()),
        }
    )
