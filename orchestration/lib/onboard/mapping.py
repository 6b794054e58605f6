"""Which canonical source a file is, and which of its headers is which canonical column.

A header matches a column by name (the canonical name, an alias already in sources.yaml,
or a common Chinese or English synonym from a small built-in dictionary) and by its
values (numbers, dates, times, ids found in master data). Every match has a confidence
between 0 and 1 and the evidence for it; a source's confidence says how much of the file
its columns explain and how much of the source the file delivers.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from orchestration.lib.sources import Source

# Common headers for each canonical column, beyond the aliases sources.yaml declares.
SYNONYMS: dict[str, tuple[str, ...]] = {
    # sales
    "order_id": ("订单号", "订单编号", "单号", "订单id", "order_no", "order_number", "orderid", "order"),
    "line_no": ("行号", "明细行号", "行项目", "序号", "line_number", "item_no", "line_item"),
    "ordered_at": (
        "下单时间",
        "订单时间",
        "下单日期",
        "创建时间",
        "order_time",
        "order_date",
        "created_at",
        "order_ts",
    ),
    "partner_id": (
        "分销商编号",
        "分销商",
        "渠道商编号",
        "渠道编号",
        "客户编号",
        "门店编号",
        "partner",
        "partner_code",
        "customer_id",
        "dealer_id",
        "channel_id",
    ),
    "sku": (
        "商品编码",
        "商品编号",
        "货号",
        "物料编码",
        "产品编码",
        "sku_code",
        "item_code",
        "product_code",
        "product_id",
    ),
    "qty": ("数量", "件数", "销量", "quantity", "qty_ordered", "units"),
    "unit_price": ("单价", "销售单价", "售价", "价格", "price", "sale_price"),
    "discount": ("折扣", "优惠", "优惠金额", "折扣金额", "discount_amount"),
    "region": ("区域", "地区", "大区", "销售区域", "area", "region_code", "zone"),
    "live_session_id": ("直播场次", "直播编号", "场次编号", "直播间场次", "live_id", "session_id", "live_session"),
    "status": ("状态", "订单状态", "工单状态", "order_status", "state"),
    "started_at": ("开播时间", "开始时间", "start_time", "start"),
    "ended_at": ("下播时间", "结束时间", "end_time", "end"),
    "peak_viewers": ("最高在线人数", "峰值观看人数", "峰值人数", "在线峰值", "peak", "max_viewers"),
    # inventory
    "snapshot_date": ("快照日期", "库存日期", "统计日期", "日期", "stock_date", "date", "as_of", "report_date"),
    "warehouse_id": ("仓库编号", "仓库编码", "仓库代码", "仓库", "wh_id", "warehouse", "warehouse_code", "wh_code"),
    "on_hand": ("在库数量", "库存数量", "现存量", "在库", "库存", "on_hand_qty", "qty_on_hand", "stock_qty", "stock"),
    "reserved": ("预占数量", "锁定数量", "占用数量", "预留数量", "reserved_qty", "allocated", "allocated_qty"),
    "in_transit": ("在途数量", "在途", "in_transit_qty", "transit_qty"),
    "movement_id": ("单据号", "流水号", "出入库单号", "movement_no", "transaction_id"),
    "moved_at": ("发生时间", "出入库时间", "业务时间", "moved_time", "transaction_time"),
    "movement_type": ("业务类型", "出入库类型", "单据类型", "type", "transaction_type"),
    # factory
    "factory_id": ("工厂编号", "工厂编码", "工厂代码", "工厂", "plant", "plant_id", "plant_code", "factory_code"),
    "line_id": ("产线编号", "产线", "生产线", "产线代码", "line_code", "production_line"),
    "produced_at": ("生产时间", "报工时间", "完工时间", "产出时间", "production_time", "produced_time"),
    "qty_good": ("良品数量", "合格数量", "良品数", "合格数", "good_qty", "good"),
    "qty_scrap": ("废品数量", "不良数量", "报废数量", "不良品数", "scrap_qty", "scrap", "defects"),
    "event_at": ("事件时间", "发生时间", "时间", "event_time", "timestamp", "time"),
    "state": ("状态", "设备状态", "machine_state", "status"),
    "reason": ("原因", "停机原因", "备注", "cause", "reason_code"),
    "work_order_id": ("工单号", "工单编号", "生产订单号", "wo_id", "work_order", "wo_no"),
    "released_at": ("下达时间", "下发时间", "release_time", "released_time"),
    "qty_planned": ("计划数量", "计划产量", "planned_qty", "plan_qty"),
    "due_date": ("交期", "交货日期", "要求完工日期", "due", "delivery_date"),
    # master data
    "supplier_id": (
        "供应商编号",
        "供应商编码",
        "供应商代码",
        "供应商",
        "vendor_id",
        "vendor",
        "vendor_code",
        "supplier",
    ),
    "name": ("名称", "商品名称", "供应商名称", "品名", "product_name", "title", "supplier_name"),
    "category": ("品类", "类目", "分类", "商品分类", "category_name", "class"),
    "unit_cost": ("单位成本", "成本价", "进价", "成本", "cost", "cost_price"),
    "lead_time_days": ("交货周期天数", "交货周期", "交期天数", "采购周期", "lead_time", "leadtime"),
    "min_order_qty": ("最小起订量", "起订量", "最小订货量", "moq", "min_qty"),
    "shelf_life_days": ("保质期天数", "保质期", "shelf_life"),
    "partner_type": ("分销商类型", "渠道类型", "客户类型", "渠道", "partner_kind", "channel_type", "type"),
    "line_count": ("产线数", "产线数量", "生产线数", "lines", "line_qty"),
}

# Words in a file's name that hint at a source.
NAME_HINTS: dict[str, tuple[str, ...]] = {
    "order_lines": ("订单", "销售", "order", "sales"),
    "live_sessions": ("直播", "live"),
    "stock_snapshots": ("库存", "快照", "stock", "inventory", "snapshot"),
    "stock_movements": ("出入库", "流水", "movement", "transaction"),
    "production_output": ("生产", "报工", "产量", "production", "output"),
    "machine_events": ("设备", "机台", "machine", "event"),
    "work_orders": ("工单", "work_order", "workorder"),
    "products": ("商品", "产品", "物料", "product", "sku", "item"),
    "suppliers": ("供应商", "supplier", "vendor"),
    "partners": ("分销商", "渠道", "客户", "partner", "dealer", "customer"),
    "warehouses": ("仓库", "warehouse"),
    "factories": ("工厂", "factory", "plant"),
}

# how well a column's declared type takes values of each kind
FIT = {
    "string": {"string": 1.0, "id": 1.0, "int": 0.8, "decimal": 0.5, "date": 0.4, "timestamp": 0.4},
    "int64": {"int": 1.0, "decimal": 0.4},
    "float64": {"int": 0.9, "decimal": 1.0},
    "decimal": {"int": 0.9, "decimal": 1.0},
    "date": {"date": 1.0, "timestamp": 0.6},
    "timestamp": {"timestamp": 1.0, "date": 0.6},
}
KIND_WORDS = {
    "int": "whole numbers",
    "decimal": "decimal numbers",
    "date": "dates",
    "timestamp": "dates with times",
    "id": "codes",
    "string": "text",
}
MIN_CONFIDENCE = 0.3

_INT = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+)$")
_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$")
_TIMESTAMP = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_ID = re.compile(r"^[A-Za-z][A-Za-z_\-]*\d[A-Za-z0-9_\-]*$")


def normalize(header: str) -> str:
    """A header as compared: lower case, no surrounding blanks or BOM, spaces and dashes as ``_``."""
    return re.sub(r"[\s\-]+", "_", header.strip().lstrip("\ufeff").lower())


def value_kind(value: str) -> str:
    value = value.strip()
    if _INT.match(value):
        return "int"
    if _DECIMAL.match(value):
        return "decimal"
    if _TIMESTAMP.match(value):
        return "timestamp"
    if _DATE.match(value):
        return "date"
    if _ID.match(value):
        return "id"
    return "string"


def values_kind(values: list[str]) -> tuple[str | None, float]:
    """The kind most values are, and the share of values of that kind (numbers of both kinds
    count as decimal, dates with and without times as timestamps)."""
    if not values:
        return None, 0.0
    kinds = Counter(value_kind(v) for v in values)
    if kinds["int"] and kinds["decimal"]:
        kinds["decimal"] += kinds.pop("int")
    if kinds["date"] and kinds["timestamp"]:
        kinds["timestamp"] += kinds.pop("date")
    kind, count = kinds.most_common(1)[0]
    return kind, count / len(values)


@dataclass
class ColumnMatch:
    """One canonical column and the header that delivers it (or None: not found)."""

    column: str
    header: str | None
    confidence: float
    evidence: str
    known: bool = False  # the header is already the canonical name or a declared alias
    required: bool = False


@dataclass
class SourceMatch:
    """How well one canonical source explains a file's headers."""

    source: str
    score: float
    columns: list[ColumnMatch]
    unmapped: list[str]
    missing_required: list[str]
    missing_optional: list[str]
    evidence: list[str] = field(default_factory=list)

    @property
    def mapped(self) -> list[ColumnMatch]:
        return [c for c in self.columns if c.header is not None]


def _by_name(header: str, column, synonyms: dict[str, tuple[str, ...]]) -> tuple[float, str, bool]:
    """(score, evidence, known) of a header as a column's name."""
    h = normalize(header)
    if h == normalize(column.name):
        return 1.0, "the canonical name", True
    if h in {normalize(a) for a in column.aliases}:
        return 0.95, "an alias sources.yaml already declares", True
    words = {normalize(s) for s in synonyms.get(column.name, ())}
    if h in words:
        return 0.85, "a common name for it (built-in dictionary)", False
    for word in words | {normalize(column.name)} | {normalize(a) for a in column.aliases}:
        short = min(len(word), len(h))
        if short < (2 if not word.isascii() else 4):
            continue
        if word in h or h in word:
            return 0.5, f"resembles {word!r}", False
    return 0.0, "", False


def match_column(
    header: str,
    values: list[str],
    column,
    master_keys: dict[tuple[str, str], set[str]] | None = None,
    synonyms: dict[str, tuple[str, ...]] = SYNONYMS,
) -> ColumnMatch | None:
    """How likely ``header`` (with these sample values) is ``column``; None when not at all."""
    name_score, name_evidence, known = _by_name(header, column, synonyms)
    kind, share = values_kind(values)
    fit = FIT[column.type].get(kind, 0.1) if kind else 0.7  # an empty sample neither helps nor hurts
    evidence = [name_evidence] if name_evidence else []
    if kind:
        evidence.append(f"{share:.0%} {KIND_WORDS[kind]}")
    ref_share = None
    if column.references and master_keys and column.references in master_keys and values:
        keys = master_keys[column.references]
        ref_share = sum(v in keys for v in values) / len(values)
        evidence.append(f"{ref_share:.0%} of values are known {'.'.join(column.references)}")
    if name_score:
        confidence = name_score * (0.7 + 0.3 * fit)
        if ref_share is not None:
            confidence += 0.1 if ref_share >= 0.9 else (-0.2 if ref_share < 0.5 else 0)
    elif ref_share is not None and ref_share >= 0.9:
        confidence = 0.55
    elif kind in ("date", "timestamp") and fit == 1.0:
        confidence = 0.35  # a date-time column with an unknown name, kept if nothing better claims it
    else:
        return None
    if kind and fit < 0.5:
        evidence.append(f"but {column.name} is {column.type}")
    confidence = round(max(0.0, min(1.0, confidence)), 2)
    if confidence < MIN_CONFIDENCE:
        return None
    return ColumnMatch(column.name, header, confidence, ", ".join(evidence), known, column.required)


def match_source(
    source: Source,
    headers: list[str],
    values: dict[str, list[str]],
    name: str = "",
    master_keys: dict[tuple[str, str], set[str]] | None = None,
) -> SourceMatch:
    """Assign headers to ``source``'s columns one to one, best matches first, and score the fit."""
    candidates = []
    for header in headers:
        for column in source.columns:
            match = match_column(header, values.get(header, []), column, master_keys)
            if match:
                candidates.append(match)
    candidates.sort(key=lambda m: (-m.confidence, headers.index(m.header), m.column))
    taken_headers, chosen = set(), {}
    for match in candidates:
        if match.header in taken_headers or match.column in chosen:
            continue
        taken_headers.add(match.header)
        chosen[match.column] = match
    columns = [
        chosen.get(c.name) or ColumnMatch(c.name, None, 0.0, "no header found", required=c.required)
        for c in source.columns
    ]
    required = [c for c in source.columns if c.required]
    optional = [c for c in source.columns if not c.required]
    weight = len(required) + 0.5 * len(optional)
    covered = sum(chosen[c.name].confidence for c in required if c.name in chosen)
    covered += 0.5 * sum(chosen[c.name].confidence for c in optional if c.name in chosen)
    coverage = covered / weight if weight else 0.0
    used = len(taken_headers) / len(headers) if headers else 0.0
    score = coverage * (0.75 + 0.25 * used)
    evidence = [
        f"{len(chosen)} of {len(source.columns)} columns found"
        f" ({sum(c.name in chosen for c in required)} of {len(required)} required),"
        f" {len(taken_headers)} of {len(headers)} headers used"
    ]
    lowered = name.lower()
    hint = next((w for w in NAME_HINTS.get(source.name, ()) if w in lowered), None)
    if hint and score > 0:
        score += 0.05
        evidence.append(f"the file name mentions {hint!r}")
    missing_required = [c.name for c in required if c.name not in chosen]
    if missing_required:
        score *= 0.8
    return SourceMatch(
        source=source.name,
        score=round(min(1.0, score), 2),
        columns=columns,
        unmapped=[h for h in headers if h not in taken_headers],
        missing_required=missing_required,
        missing_optional=[c.name for c in optional if c.name not in chosen],
        evidence=evidence,
    )


def rank_sources(
    sources: dict[str, Source],
    headers: list[str],
    values: dict[str, list[str]],
    name: str = "",
    master_keys: dict[tuple[str, str], set[str]] | None = None,
) -> list[SourceMatch]:
    """Every canonical source's fit to a file, best first."""
    matches = [match_source(s, headers, values, name, master_keys) for s in sources.values()]
    return sorted(matches, key=lambda m: (-m.score, m.source))
