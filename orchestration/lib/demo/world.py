"""The demo business's master data: suppliers and their factories, SKUs, partners, warehouses.

The world also carries the *demand model* every later step shares: how popular each SKU
is, how that moves with the seasons, and how many units the platform should expect to
sell on a given day. The factories plan against that expectation; actual sales are drawn
around it in :mod:`.sales`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa

from orchestration.lib.demo.fields import money, rng_for
from orchestration.lib.demo.presets import Preset
from orchestration.lib.demo.seasons import levels, outlook
from orchestration.lib.demo.variants import Variant, variant_named

REGION_WEIGHTS = {
    "east": 0.30,
    "south": 0.22,
    "north": 0.16,
    "central": 0.12,
    "southwest": 0.10,
    "northwest": 0.05,
    "northeast": 0.05,
}
REGIONS = tuple(REGION_WEIGHTS)
NEAREST = {  # where a region's orders ship from when it has no warehouse of its own
    "east": ("east", "central", "north", "south"),
    "south": ("south", "east", "southwest", "central"),
    "north": ("north", "northeast", "east", "central"),
    "central": ("central", "east", "south", "north"),
    "southwest": ("southwest", "central", "south", "northwest"),
    "northwest": ("northwest", "north", "southwest", "central"),
    "northeast": ("northeast", "north", "east", "central"),
}
WAREHOUSE_REGIONS = ("east", "south", "north", "central", "southwest", "northwest", "northeast")

PARTNER_TYPES = ("live_stream", "store", "community", "ecommerce", "distributor")
PARTNER_MIX = np.array([0.15, 0.35, 0.25, 0.15, 0.10])
PARTNER_ACTIVITY = np.array([0.4, 1.0, 1.3, 2.5, 2.0])  # orders outside live sessions
EXTRA_UNITS = np.array([0.4, 1.0, 2.0, 0.6, 9.0])  # units per line = 1 + Poisson(this)
LIVE_EXTRA_UNITS = 0.3
CANCEL_CHANCE = 0.03

SHIFT_HOURS = 16  # two shifts, 08:00-24:00
EXPECTED_AVAILABILITY = 0.85


@dataclass(frozen=True)
class Category:
    """A product family: what its SKUs are called, cost, keep and sell through the year."""

    name: str
    items: tuple[str, ...]
    price: tuple[float, float]  # list price range in yuan
    shelf_life: tuple[int, int] | None  # days, None for goods that do not expire
    months: tuple[float, ...]  # demand by month, January first


CATEGORIES = (
    Category(
        "家居日用",
        ("保温杯", "收纳箱", "毛巾", "拖鞋", "衣架", "垃圾袋", "四件套", "抱枕", "厨房纸", "置物架"),
        (9.9, 129),
        None,
        (1.0, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.1),
    ),
    Category(
        "食品饮料",
        ("坚果礼盒", "挂耳咖啡", "螺蛳粉", "牛肉干", "苏打水", "燕麦片", "自热火锅", "辣条", "茶叶", "蜂蜜"),
        (9.9, 89),
        (180, 540),
        (1.3, 1.2, 0.9, 0.9, 0.95, 1.0, 1.0, 1.0, 1.2, 1.1, 1.1, 1.2),
    ),
    Category(
        "个护美妆",
        ("洗发水", "面膜", "牙膏", "洗衣凝珠", "护手霜", "沐浴露", "防晒霜", "口红", "洗面奶", "身体乳"),
        (12.9, 159),
        (720, 1095),
        (1.0, 1.0, 1.15, 1.0, 1.0, 1.05, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1),
    ),
    Category(
        "母婴用品",
        ("纸尿裤", "湿巾", "奶瓶", "婴儿洗衣液", "儿童牙刷", "辅食米粉", "爬行垫", "儿童水杯"),
        (19.9, 199),
        (365, 1095),
        (1.0,) * 12,
    ),
    Category(
        "数码配件",
        ("数据线", "充电宝", "蓝牙耳机", "手机壳", "钢化膜", "充电头", "车载支架", "无线鼠标"),
        (9.9, 299),
        None,
        (1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.05, 1.1, 1.15, 1.0, 1.1, 1.0),
    ),
    Category(
        "服饰鞋包",
        ("羽绒服", "卫衣", "袜子", "保暖内衣", "运动鞋", "帆布包", "棒球帽", "冲锋衣", "围巾", "T恤"),
        (19.9, 599),
        None,
        (1.4, 1.1, 0.9, 0.85, 0.8, 0.75, 0.7, 0.75, 0.95, 1.2, 1.45, 1.5),
    ),
)
VARIANTS = ("经典款", "升级款", "家庭装", "便携装", "礼盒装", "加大号", "轻薄款", "尊享版", "基础款", "组合装")
CITIES = (
    "宁波",
    "义乌",
    "东莞",
    "佛山",
    "苏州",
    "泉州",
    "温州",
    "青岛",
    "成都",
    "武汉",
    "潍坊",
    "中山",
    "嘉兴",
    "漳州",
    "临沂",
)
BRANDS = (
    "恒达",
    "远航",
    "百盛",
    "嘉禾",
    "联创",
    "鸿运",
    "华信",
    "金源",
    "永安",
    "佳美",
    "天成",
    "锦程",
    "新易",
    "润丰",
)
INDUSTRY = {  # company-name suffix by the category a supplier makes
    "家居日用": "日用品",
    "食品饮料": "食品",
    "个护美妆": "日化",
    "母婴用品": "母婴用品",
    "数码配件": "电子",
    "服饰鞋包": "服饰",
}
MIDMONTH = np.array([15, 46, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349])


@dataclass
class World:
    """Everyone and everything the demo business trades with, plus its demand model."""

    preset: Preset
    seed: int
    supplier_ids: list[str]
    supplier_names: list[str]
    supplier_region: np.ndarray
    supplier_category: np.ndarray
    factory_ids: list[str]
    factory_supplier: np.ndarray
    factory_lines: np.ndarray
    line_ids: list[str]
    line_factory: np.ndarray
    line_rate: np.ndarray  # units per running hour
    sku_ids: list[str]
    sku_names: list[str]
    sku_category: np.ndarray
    sku_supplier: np.ndarray
    sku_line: np.ndarray  # the one production line that makes each SKU
    cost_cents: np.ndarray
    price_cents: np.ndarray
    lead_time: np.ndarray
    min_order_qty: np.ndarray
    shelf_life: np.ndarray  # -1 where the goods do not expire
    popularity: np.ndarray
    launch: np.ndarray  # day index a new SKU starts selling (0 for SKUs already on sale)
    fading: np.ndarray  # yearly decline rate of SKUs going out of fashion
    partner_ids: list[str]
    partner_type: np.ndarray
    partner_region: np.ndarray
    partner_activity: np.ndarray
    partner_fame: np.ndarray  # live-stream hosts' audience size
    partner_warehouse: np.ndarray
    warehouse_ids: list[str]
    warehouse_region: np.ndarray
    lines_per_level: float = 0.0  # expected order lines on a day of calendar level 1.0
    variant: Variant | None = None  # demand bent away from the baseline's shape (.variants)
    _shares: dict = field(default_factory=dict, repr=False)

    # -- convenient views ------------------------------------------------------------
    @property
    def days(self) -> list[date]:
        return self.preset.days

    @cached_property
    def sku_array(self) -> pa.Array:
        return pa.array(self.sku_ids, pa.string())

    @cached_property
    def partner_array(self) -> pa.Array:
        return pa.array(self.partner_ids, pa.string())

    @cached_property
    def partner_region_array(self) -> pa.Array:
        return pa.array([REGIONS[r] for r in self.partner_region], pa.string())

    @cached_property
    def warehouse_array(self) -> pa.Array:
        return pa.array(self.warehouse_ids, pa.string())

    @cached_property
    def warehouse_share(self) -> np.ndarray:
        """Share of demand each warehouse serves (by its partners' activity)."""
        share = np.bincount(self.partner_warehouse, weights=self.partner_activity, minlength=len(self.warehouse_ids))
        return share / share.sum()

    @cached_property
    def regular_partner_p(self) -> np.ndarray:
        return self.partner_activity / self.partner_activity.sum()

    @cached_property
    def host_ids(self) -> np.ndarray:
        return np.flatnonzero(self.partner_type == PARTNER_TYPES.index("live_stream"))

    # -- the demand model ------------------------------------------------------------
    def sku_share(self, day: date) -> np.ndarray:
        """Each SKU's share of the day's order lines: popularity, season, launch and fade (and
        what the demo variant does to them)."""
        cached = self._shares.get(day)
        if cached is not None:
            return cached
        if self.variant is None:
            share = self.base_share(day)
        else:
            lines = self.variant.lines(self, day)
            share = lines / lines.sum()
        if len(self._shares) >= 64:  # planners look a few weeks ahead; keep just that
            del self._shares[next(iter(self._shares))]
        self._shares[day] = share
        return share

    def forget_shares(self) -> None:
        self._shares.clear()

    def base_share(self, day: date) -> np.ndarray:
        """The baseline world's share of each SKU: popularity, season, launch and fade."""
        index = (day - self.preset.start).days
        doy = day.timetuple().tm_yday
        months = np.array([c.months for c in CATEGORIES])
        season = np.array([np.interp(doy, MIDMONTH, m, period=365) for m in months])[self.sku_category]
        since_launch = index - self.launch
        ramp = np.clip((since_launch + 1) / 14.0, 0.0, 1.0)
        fade = np.exp(-self.fading * max(index, 0) / 365.0)
        weights = self.popularity * season * ramp * fade
        return weights / weights.sum()

    def expected_lines(self, day: date, festival_awareness: float = 1.0) -> float:
        """Order lines expected that day; planners who underrate festivals see less of the boost."""
        look = outlook(day)
        if self.variant is not None:
            return float(self.variant.lines(self, day).sum()) * look.boost ** (festival_awareness - 1.0)
        return self.lines_per_level * look.level * look.boost ** (festival_awareness - 1.0)

    def price_factor(self, day: date) -> np.ndarray | None:
        """Each SKU's price that day relative to its list price, where the variant moves prices."""
        return None if self.variant is None else self.variant.price_factor(self, day)

    def units_per_line(self, day: date) -> float:
        """Mean units on one order line that day (partner mix and live share)."""
        mix = np.bincount(self.partner_type, weights=self.partner_activity, minlength=len(PARTNER_TYPES))
        regular = float(((1 + EXTRA_UNITS) * mix).sum() / mix.sum())
        live = outlook(day).live_share if len(self.host_ids) else 0.0
        return (1 - live) * regular + live * (1 + LIVE_EXTRA_UNITS)

    def expected_units(self, day: date, festival_awareness: float = 1.0) -> np.ndarray:
        """Units of each SKU the platform expects to ship that day (what planners plan on)."""
        lines = self.expected_lines(day, festival_awareness)
        return lines * self.units_per_line(day) * (1 - CANCEL_CHANCE) * self.sku_share(day)

    # -- master data as tables -------------------------------------------------------
    def master_tables(self) -> dict[str, pa.Table]:
        """Master data under canonical column names, ready for the writers."""
        return {
            "suppliers": pa.table(
                {
                    "supplier_id": self.supplier_ids,
                    "name": self.supplier_names,
                    "region": [REGIONS[r] for r in self.supplier_region],
                }
            ),
            "factories": pa.table(
                {
                    "factory_id": self.factory_ids,
                    "supplier_id": [self.supplier_ids[s] for s in self.factory_supplier],
                    "region": [REGIONS[self.supplier_region[s]] for s in self.factory_supplier],
                    "line_count": pa.array(self.factory_lines, pa.int64()),
                }
            ),
            "products": pa.table(
                {
                    "sku": self.sku_ids,
                    "name": self.sku_names,
                    "category": [CATEGORIES[c].name for c in self.sku_category],
                    "supplier_id": [self.supplier_ids[s] for s in self.sku_supplier],
                    "unit_cost": money(self.cost_cents),
                    "unit_price": money(self.price_cents),
                    "lead_time_days": pa.array(self.lead_time, pa.int64()),
                    "min_order_qty": pa.array(self.min_order_qty, pa.int64()),
                    "shelf_life_days": pa.array(self.shelf_life, pa.int64(), mask=self.shelf_life < 0),
                }
            ),
            "partners": pa.table(
                {
                    "partner_id": self.partner_ids,
                    "partner_type": [PARTNER_TYPES[t] for t in self.partner_type],
                    "region": self.partner_region_array,
                }
            ),
            "warehouses": pa.table(
                {
                    "warehouse_id": self.warehouse_ids,
                    "region": [REGIONS[r] for r in self.warehouse_region],
                }
            ),
        }


# -- building the world -------------------------------------------------------------------


def build_world(preset: Preset, seed: int, variant: str | None = None) -> World:
    """The master data of a preset, the same for the same seed (and variant)."""
    rng = rng_for(seed, "world")
    categories = rng.permutation(len(CATEGORIES))
    suppliers = _suppliers(preset, rng, categories)
    factory_supplier, factory_lines = _factories(preset, rng)
    line_factory = np.repeat(np.arange(preset.factories), factory_lines)
    line_ids = [f"F{f + 1:03d}-L{j + 1}" for f, n in enumerate(factory_lines) for j in range(n)]
    sku_line = _sku_lines(preset, rng, factory_supplier[line_factory])
    sku_supplier = factory_supplier[line_factory[sku_line]]
    sku_category = suppliers["category"][sku_supplier]
    partners = _partners(preset, rng)
    world = World(
        preset=preset,
        seed=seed,
        supplier_ids=[f"SUP{i + 1:03d}" for i in range(preset.suppliers)],
        supplier_names=suppliers["names"],
        supplier_region=suppliers["region"],
        supplier_category=suppliers["category"],
        factory_ids=[f"F{i + 1:03d}" for i in range(preset.factories)],
        factory_supplier=factory_supplier,
        factory_lines=factory_lines,
        line_ids=line_ids,
        line_factory=line_factory,
        line_rate=np.zeros(len(line_ids)),
        sku_ids=[f"SKU{i + 1:04d}" for i in range(preset.skus)],
        sku_category=sku_category,
        sku_supplier=sku_supplier,
        sku_line=sku_line,
        **_products(preset, rng, sku_category),
        **partners,
        warehouse_ids=[f"WH{i + 1:02d}" for i in range(preset.warehouses)],
        warehouse_region=np.array(
            [REGIONS.index(WAREHOUSE_REGIONS[i % len(WAREHOUSE_REGIONS)]) for i in range(preset.warehouses)]
        ),
    )
    world.partner_warehouse = _serving_warehouses(world)
    world.lines_per_level = preset.order_lines / levels(preset.start, len(preset.days)).sum()
    world.variant = variant_named(variant)
    if world.variant is not None:
        world.variant.shape(world)
    _size_supply(world, rng)
    return world


def _suppliers(preset: Preset, rng: np.random.Generator, categories: np.ndarray) -> dict:
    category = categories[np.arange(preset.suppliers) % len(categories)]
    region = rng.choice(len(REGIONS), preset.suppliers, p=list(REGION_WEIGHTS.values()))
    names = []
    for i, c in enumerate(category):
        city = CITIES[(i * 7 + int(rng.integers(len(CITIES)))) % len(CITIES)]
        brand = BRANDS[i % len(BRANDS)]
        suffix = "" if i < len(BRANDS) else str(i // len(BRANDS) + 1)
        names.append(f"{city}{brand}{suffix}{INDUSTRY[CATEGORIES[c].name]}有限公司")
    return {"names": names, "region": region, "category": category}


def _factories(preset: Preset, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every supplier owns at least one factory; bigger suppliers own more."""
    extra = rng.integers(0, preset.suppliers, max(0, preset.factories - preset.suppliers))
    owner = np.sort(np.concatenate([np.arange(min(preset.suppliers, preset.factories)), extra]))
    low, high = preset.lines_per_factory
    return owner, rng.integers(low, high + 1, preset.factories)


def _sku_lines(preset: Preset, rng: np.random.Generator, line_supplier: np.ndarray) -> np.ndarray:
    """The line that makes each SKU: every line gets at least one SKU while SKUs last."""
    lines = len(line_supplier)
    first = rng.permutation(lines)[: preset.skus]
    rest = rng.integers(0, lines, max(0, preset.skus - lines))
    return rng.permutation(np.concatenate([first, rest]))


def _products(preset: Preset, rng: np.random.Generator, category: np.ndarray) -> dict:
    k = preset.skus
    names, price, shelf = [], np.zeros(k, np.int64), np.full(k, -1, np.int64)
    for i, c in enumerate(category):
        cat = CATEGORIES[c]
        names.append(f"{cat.items[int(rng.integers(len(cat.items)))]} {VARIANTS[int(rng.integers(len(VARIANTS)))]}")
        low, high = np.log(cat.price[0]), np.log(cat.price[1])
        price[i] = int(np.exp(rng.uniform(low, high))) * 100 + 90  # 39.90, the way shops price
        if cat.shelf_life:
            shelf[i] = int(rng.integers(cat.shelf_life[0], cat.shelf_life[1] + 1))
    cost = np.round(price * rng.uniform(0.45, 0.70, k)).astype(np.int64)
    rank = rng.permutation(k)
    popularity = rng.lognormal(0.0, 0.3, k) / (rank + 1.0) ** 0.95  # a long tail
    days = len(preset.days)
    launch = np.zeros(k, np.int64)
    fading = np.zeros(k)
    if days >= 90:  # longer runs see new SKUs launch and old ones fade
        new = rng.random(k) < 0.08
        launch[new] = rng.integers(30, days - 14, new.sum())
        old = (~new) & (rng.random(k) < 0.08)
        fading[old] = rng.uniform(0.8, 2.0, old.sum())
    return {
        "sku_names": names,
        "price_cents": price,
        "cost_cents": cost,
        "popularity": popularity,
        "lead_time": rng.integers(5, 15, k),
        "shelf_life": shelf,
        "launch": launch,
        "fading": fading,
        "min_order_qty": np.zeros(k, np.int64),
    }


def _partners(preset: Preset, rng: np.random.Generator) -> dict:
    n = preset.partners
    counts = np.floor(PARTNER_MIX * n).astype(int)
    counts[np.argsort(-(PARTNER_MIX * n - counts))[: n - counts.sum()]] += 1
    kind = rng.permutation(np.repeat(np.arange(len(PARTNER_TYPES)), counts))
    activity = PARTNER_ACTIVITY[kind] * rng.lognormal(0.0, 0.9, n)
    fame = np.where(kind == 0, rng.lognormal(0.0, 1.2, n), 0.0)
    return {
        "partner_ids": [f"P{i + 1:05d}" for i in range(n)],
        "partner_type": kind,
        "partner_region": rng.choice(len(REGIONS), n, p=list(REGION_WEIGHTS.values())),
        "partner_activity": activity,
        "partner_fame": fame,
        "partner_warehouse": np.zeros(n, np.int64),
    }


def _serving_warehouses(world: World) -> np.ndarray:
    """Each partner ships from a warehouse in its region, else from the nearest region's."""
    by_region: dict[int, list[int]] = {}
    for w, r in enumerate(world.warehouse_region):
        by_region.setdefault(int(r), []).append(w)
    serving = np.zeros(len(world.partner_ids), np.int64)
    for p, r in enumerate(world.partner_region):
        for near in NEAREST[REGIONS[r]]:
            options = by_region.get(REGIONS.index(near))
            if options:
                serving[p] = options[p % len(options)]
                break
        else:
            serving[p] = p % len(world.warehouse_ids)
    return serving


def _size_supply(world: World, rng: np.random.Generator) -> None:
    """Size minimum order quantities and line speeds to the demand each SKU can expect."""
    mean_units = np.mean([world.expected_units(d) for d in world.days], axis=0)
    world.min_order_qty = np.array([_nice_ceil(max(10.0, u * rng.uniform(3, 8))) for u in mean_units], np.int64)
    per_line = np.bincount(world.sku_line, weights=mean_units, minlength=len(world.line_ids))
    headroom = rng.uniform(1.6, 2.1, len(world.line_ids))
    world.line_rate = np.maximum(1.0, per_line * headroom / (SHIFT_HOURS * EXPECTED_AVAILABILITY))


def _nice_ceil(value: float) -> int:
    """The smallest of 10, 20, 50, 100, 200, 500, ... that is at least ``value``."""
    magnitude = 10 ** int(np.floor(np.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)
