"""The warehouses: stock per warehouse and SKU, every movement of it, and the nightly snapshot.

A warehouse day, in local time: trucks from the factories unload (06:00-08:00), stock is
rebalanced between warehouses (out 08:30, in 14:00), orders ship in two waves (10:00 and
16:00; later orders wait for tomorrow and are held as *reserved*), refunded goods come back
(13:00), and stock counts are corrected (20:00). What a wave cannot ship is a stockout: the
order stays on record, the units never leave. Every change is a movement, so

    on_hand(day) = on_hand(day before) + sum of the day's movement qty

holds exactly for every warehouse and SKU (the opening stock is the first day's receipt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from orchestration.lib.demo.fields import day_ids, local_times
from orchestration.lib.demo.sales import DaySales
from orchestration.lib.demo.world import World

MOVEMENT_TYPES = ("receipt", "shipment", "transfer", "adjustment", "return")
RECEIPT, SHIPMENT, TRANSFER, ADJUSTMENT, RETURN = range(5)
HOUR = 3600
RETURN_LAG = (2, 7)  # refunded goods are back 2-6 days after the refund
ADJUSTMENT_CHANCE = 0.01  # per warehouse and SKU and day
ADJUSTMENTS = (np.array([-3, -2, -1, 1, 2]), np.array([0.15, 0.30, 0.35, 0.12, 0.08]))
COVER_DAYS = 10  # the platform spreads new stock to give every warehouse this many days
OPENING_EXTRA_DAYS = 7


@dataclass
class StockDay:
    """A day of the warehouses as files, plus the demand they could not serve."""

    stock_movements: pa.Table
    stock_snapshots: pa.Table
    stockout_units: int
    unserved: np.ndarray  # (warehouses, skus) units asked for today that no wave could ship


@dataclass
class _Moves:
    """The day's movements as they happen, in any order; sorted by time when written."""

    parts: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def add(
        self,
        warehouse: np.ndarray,
        sku: np.ndarray,
        qty: np.ndarray,
        second: np.ndarray,
        kind: int,
        lots: np.ndarray | None = None,
    ) -> None:
        """Movements of one kind; ``lots`` (per SKU) names the lot each one receives."""
        keep = qty != 0
        lot = np.full(keep.sum(), None, object) if lots is None else lots[sku[keep]]
        self.parts.append((second[keep], warehouse[keep], sku[keep], qty[keep], np.full(keep.sum(), kind), lot))

    def add_grid(
        self,
        delta: np.ndarray,
        start: int,
        span: int,
        kind: int,
        rng: np.random.Generator,
        lots: np.ndarray | None = None,
    ) -> None:
        """One movement per warehouse and SKU whose stock ``delta`` changes, at a time in the window."""
        warehouse, sku = np.nonzero(delta)
        self.add(warehouse, sku, delta[warehouse, sku], start + rng.integers(0, span, len(warehouse)), kind, lots)

    def table(self, world: World, day: date) -> pa.Table:
        if self.parts:
            second, warehouse, sku, qty, kind, lot = (np.concatenate(c) for c in zip(*self.parts))
        else:
            second = warehouse = sku = qty = kind = np.zeros(0, np.int64)
            lot = np.zeros(0, object)
        order = np.lexsort((kind, sku, warehouse, second))
        return pa.table(
            {
                "movement_id": day_ids("MV", day, np.arange(1, len(order) + 1), 6),
                "moved_at": local_times(day, second[order], "iso"),
                "warehouse_id": world.warehouse_array.take(pa.array(warehouse[order], pa.int64())),
                "sku": world.sku_array.take(pa.array(sku[order], pa.int64())),
                "qty": pa.array(qty[order], pa.int64()),
                "movement_type": pa.array(MOVEMENT_TYPES).take(pa.array(kind[order], pa.int64())),
                "lot_id": pa.array(lot[order].tolist(), pa.string()),
            }
        )


class Warehouses:
    """Stock of every warehouse and SKU, carried from one day to the next."""

    def __init__(self, world: World, opening: np.ndarray):
        self.world = world
        shape = (len(world.warehouse_ids), len(world.sku_ids))
        self.opening = opening.astype(np.int64)
        self.on_hand = np.zeros(shape, np.int64)
        self.arriving = np.zeros(shape, np.int64)  # on the road from the factories, here tomorrow
        self.arriving_lots = np.full(shape[1], None, object)  # per SKU, the lot on the road
        self.waiting = np.zeros(shape, np.int64)  # ordered after the last wave, ships tomorrow
        self.returns = np.zeros((RETURN_LAG[1], *shape), np.int64)  # refunded goods on their way back

    def stock_position(self) -> np.ndarray:
        """Per SKU: stock in and on the way to the warehouses, less what customers wait for."""
        return (self.opening + self.on_hand + self.arriving - self.waiting).sum(axis=0)

    def run(
        self, day: date, sales: DaySales, made: np.ndarray, rng: np.random.Generator, lots: list | None = None
    ) -> StockDay:
        """Move the stock through one day and take the end-of-day snapshot.

        ``lots`` names, per SKU, the lot of today's output (``made``): receipts carry it when
        it arrives tomorrow. The opening stock, transfers, returns and shipments carry none.
        """
        moves = _Moves()
        expected = self.world.expected_units(day)
        self._receive(self.opening, 0, 1, moves, rng)  # the opening stock, on the first day only
        self.opening = np.zeros_like(self.opening)
        self._receive(self.arriving, 6 * HOUR, 2 * HOUR, moves, rng, lots=self.arriving_lots)
        moves_in = self._send_transfers(expected, moves, rng)
        shipped = self._ship(self.waiting + sales.to_ship[:, :, 0], 10 * HOUR, moves, rng)
        self._receive_returns(moves, rng)
        self._receive(moves_in, 14 * HOUR, HOUR, moves, rng, kind=TRANSFER)
        left = self.waiting + sales.to_ship[:, :, 0] - shipped
        shipped_late = self._ship(left + sales.to_ship[:, :, 1], 16 * HOUR, moves, rng)
        demand = self.waiting + sales.to_ship[:, :, :2].sum(axis=2)
        stockout = left + sales.to_ship[:, :, 1] - shipped_late
        self._schedule_returns(sales.refunded, shipped + shipped_late, demand, rng)
        self.waiting = sales.to_ship[:, :, 2]
        self._adjust(moves, rng)
        self.arriving = self._allocate(made, expected)
        self.arriving_lots = np.array(lots if lots is not None else [None] * len(made), object)
        return StockDay(moves.table(self.world, day), self._snapshot(day), int(stockout.sum()), stockout)

    # -- the steps of the day ----------------------------------------------------------
    def _receive(
        self,
        qty: np.ndarray,
        start: int,
        span: int,
        moves: _Moves,
        rng: np.random.Generator,
        kind: int = RECEIPT,
        lots: np.ndarray | None = None,
    ) -> None:
        self.on_hand += qty
        moves.add_grid(qty, start, span, kind, rng, lots)

    def _ship(self, queue: np.ndarray, wave: int, moves: _Moves, rng: np.random.Generator) -> np.ndarray:
        """Ship what the queue asks for, as far as the stock goes."""
        shipped = np.minimum(queue, self.on_hand)
        self.on_hand -= shipped
        moves.add_grid(-shipped, wave, HOUR, SHIPMENT, rng)
        return shipped

    def _receive_returns(self, moves: _Moves, rng: np.random.Generator) -> None:
        back = self.returns[0].copy()
        self.returns[:-1] = self.returns[1:]
        self.returns[-1] = 0
        self._receive(back, 13 * HOUR, HOUR, moves, rng, kind=RETURN)

    def _schedule_returns(
        self, refunded: np.ndarray, shipped: np.ndarray, demand: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Refunded units that had shipped come back a few days later."""
        fill = np.divide(shipped, demand, out=np.zeros(shipped.shape), where=demand > 0)
        back = np.floor(refunded * np.minimum(fill, 1.0)).astype(np.int64)
        warehouse, sku = np.nonzero(back)
        lag = rng.integers(*RETURN_LAG, len(warehouse))
        np.add.at(self.returns, (lag - 1, warehouse, sku), back[warehouse, sku])

    def _send_transfers(self, expected: np.ndarray, moves: _Moves, rng: np.random.Generator) -> np.ndarray:
        """Move stock from a warehouse with weeks of cover to one about to run out."""
        w, k = self.on_hand.shape
        arriving = np.zeros_like(self.on_hand)
        if w < 2:
            return arriving
        per_day = np.maximum(expected[None, :] * self.world.warehouse_share[:, None], 0.01)
        cover = self.on_hand / per_day
        sku = np.arange(k)
        src, dst = cover.argmax(axis=0), cover.argmin(axis=0)
        qty = np.floor(
            np.minimum(self.on_hand[src, sku] - 7 * per_day[src, sku], 7 * per_day[dst, sku] - self.on_hand[dst, sku])
        ).astype(np.int64)
        wanted = np.flatnonzero((cover[dst, sku] < 2) & (cover[src, sku] > 12) & (qty >= 1))
        count = min(len(wanted), int(rng.poisson(1 + w * k / 300)))
        pick = wanted[np.argsort(cover[dst[wanted], wanted], kind="stable")][:count]
        self.on_hand[src[pick], pick] -= qty[pick]
        arriving[dst[pick], pick] += qty[pick]
        moves.add(src[pick], pick, -qty[pick], 8 * HOUR + 1800 + rng.integers(0, HOUR, len(pick)), TRANSFER)
        return arriving

    def _adjust(self, moves: _Moves, rng: np.random.Generator) -> None:
        """Stock counts find a few units damaged, lost or miscounted."""
        delta = rng.choice(ADJUSTMENTS[0], self.on_hand.shape, p=ADJUSTMENTS[1])
        delta = np.where(rng.random(self.on_hand.shape) < ADJUSTMENT_CHANCE, delta, 0)
        delta = np.maximum(delta, -self.on_hand)  # cannot count below zero
        self.on_hand += delta
        moves.add_grid(delta, 20 * HOUR, HOUR, ADJUSTMENT, rng)

    def _allocate(self, made: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Spread the day's output over the warehouses that are shortest of cover."""
        share = self.world.warehouse_share[:, None]
        need = np.maximum(COVER_DAYS * expected[None, :] * share - self.on_hand, 0) + 0.01 * share
        weights = need / need.sum(axis=0)
        alloc = np.floor(made[None, :] * weights).astype(np.int64)
        sku = np.arange(len(made))
        alloc[weights.argmax(axis=0), sku] += made - alloc.sum(axis=0)
        return alloc

    def _snapshot(self, day: date) -> pa.Table:
        w, k = self.on_hand.shape
        warehouse = np.repeat(np.arange(w), k)
        sku = np.tile(np.arange(k), w)
        return pa.table(
            {
                "snapshot_date": pa.array([day] * (w * k), pa.date32()),
                "warehouse_id": self.world.warehouse_array.take(pa.array(warehouse)),
                "sku": self.world.sku_array.take(pa.array(sku)),
                "on_hand": pa.array(self.on_hand.ravel(), pa.int64()),
                "reserved": pa.array(np.minimum(self.waiting, self.on_hand).ravel(), pa.int64()),
                "in_transit": pa.array(self.arriving.ravel(), pa.int64()),
            }
        )


def opening_stock(world: World, rng: np.random.Generator) -> np.ndarray:
    """Stock on the shelves before the first day: about a lead time's demand, give or take."""
    start = world.preset.start
    horizon = int(world.lead_time.max()) + OPENING_EXTRA_DAYS
    ahead = np.cumsum([world.expected_units(start + timedelta(days=i)) for i in range(horizon)], axis=0)
    need = ahead[world.lead_time + OPENING_EXTRA_DAYS - 1, np.arange(len(world.sku_ids))]
    spread = rng.uniform(0.5, 1.3, (len(world.warehouse_ids), len(world.sku_ids)))
    return np.round(need[None, :] * world.warehouse_share[:, None] * spread).astype(np.int64)
