"""The landing sources, as declared in ``sources.yaml``: formats, mappings, types, rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import yaml

from orchestration.lib.paths import SOURCES_FILE

FORMATS = ("csv", "jsonl", "parquet", "xlsx")
DOMAINS = ("master", "factory", "inventory", "sales")
DECIMAL = pa.decimal128(18, 2)
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "decimal": DECIMAL,
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SourceConfigError(ValueError):
    """sources.yaml says something the ingestion cannot follow."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    min: float | None = None
    accepted: tuple[str, ...] = ()
    references: tuple[str, str] | None = None  # (entity, column)

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]

    @property
    def headers(self) -> tuple[str, ...]:
        """Every header name that maps to this column, canonical name first."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Source:
    """One landing source: where its files are, how to read them, what a good row is."""

    name: str
    domain: str
    description: str
    format: str
    files: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    encoding: str = "utf-8"
    timezone: str = "Asia/Shanghai"
    event_time: str | None = None
    max_quarantine_ratio: float = 0.05

    @property
    def entity(self) -> str:
        return self.name

    @property
    def is_daily(self) -> bool:
        return self.event_time is not None

    @property
    def landing_dir(self) -> str:
        return f"landing/{self.name}"

    @property
    def bronze_dir(self) -> str:
        return f"bronze/{self.name}"

    @property
    def quarantine_dir(self) -> str:
        return f"quarantine/{self.name}"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def schema(self) -> pa.Schema:
        """The canonical bronze schema: declared columns plus lineage columns."""
        fields = [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns]
        fields += [pa.field("_source_file", pa.string(), False), pa.field("_source_row", pa.int64(), False)]
        return pa.schema(fields)

    @property
    def references(self) -> set[str]:
        return {c.references[0] for c in self.columns if c.references}

    def day_of(self, file_name: str) -> date | None:
        """The business day a daily file is for, read from its name."""
        match = DAY_IN_NAME.search(file_name)
        if not match:
            return None
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:
            return None


def _check_name(what: str, name: str) -> None:
    if not NAME.match(name):
        raise SourceConfigError(f"sources.yaml: {what} {name!r} must be lower_snake_case (letters, digits, _)")


def _column(source: str, name: str, spec: dict) -> Column:
    _check_name(f"{source} column", name)
    known = {"type", "required", "aliases", "min", "accepted", "references"}
    unknown = set(spec) - known
    if unknown:
        raise SourceConfigError(
            f"sources.yaml: {source}.{name} has unknown settings {sorted(unknown)}; allowed: {sorted(known)}"
        )
    kind = spec.get("type", "string")
    if kind not in ARROW_TYPES:
        raise SourceConfigError(f"sources.yaml: {source}.{name} has type {kind!r}; use one of {list(ARROW_TYPES)}")
    ref = spec.get("references")
    if ref is not None:
        if "." not in ref:
            raise SourceConfigError(f"sources.yaml: {source}.{name} references {ref!r}; write it as <entity>.<column>")
        ref = tuple(ref.split(".", 1))
    return Column(
        name=name,
        type=kind,
        required=bool(spec.get("required", False)),
        aliases=tuple(spec.get("aliases", ())),
        min=spec.get("min"),
        accepted=tuple(spec.get("accepted", ())),
        references=ref,
    )


def parse_sources(doc: dict) -> dict[str, Source]:
    """Turn the YAML document into validated :class:`Source` objects."""
    defaults = doc.get("defaults", {})
    sources: dict[str, Source] = {}
    for name, spec in (doc.get("sources") or {}).items():
        _check_name("source", name)
        fmt = spec.get("format")
        if fmt not in FORMATS:
            raise SourceConfigError(f"sources.yaml: {name} has format {fmt!r}; use one of {FORMATS}")
        if spec.get("domain") not in DOMAINS:
            raise SourceConfigError(f"sources.yaml: {name} has domain {spec.get('domain')!r}; use one of {DOMAINS}")
        columns = tuple(_column(name, col, colspec or {}) for col, colspec in spec["columns"].items())
        names = {c.name for c in columns}
        key = tuple(spec.get("key", ()))
        for k in key:
            if k not in names:
                raise SourceConfigError(f"sources.yaml: {name} key column {k!r} is not among its columns")
        event_time = spec.get("event_time")
        if event_time is not None and event_time not in names:
            raise SourceConfigError(f"sources.yaml: {name} event_time {event_time!r} is not among its columns")
        sources[name] = Source(
            name=name,
            domain=spec["domain"],
            description=spec.get("description", ""),
            format=fmt,
            files=spec.get("files", f"{name}_*"),
            key=key,
            columns=columns,
            encoding=spec.get("encoding", defaults.get("encoding", "utf-8")),
            timezone=spec.get("timezone", defaults.get("timezone", "Asia/Shanghai")),
            event_time=event_time,
            max_quarantine_ratio=float(spec.get("max_quarantine_ratio", defaults.get("max_quarantine_ratio", 0.05))),
        )
    for source in sources.values():
        for col in source.columns:
            if col.references and col.references[0] not in sources:
                raise SourceConfigError(
                    f"sources.yaml: {source.name}.{col.name} references unknown source {col.references[0]!r}"
                )
    return sources


@lru_cache(maxsize=4)
def _document(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_sources(path: Path = SOURCES_FILE) -> dict[str, Source]:
    """All sources from ``sources.yaml``, keyed by entity name."""
    return parse_sources(_document(path))


def history_start(path: Path = SOURCES_FILE) -> date:
    """The first business day the daily partitions cover (``defaults.history_start``)."""
    value = _document(path).get("defaults", {}).get("history_start", "2025-11-01")
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def master_sources() -> list[Source]:
    return [s for s in load_sources().values() if not s.is_daily]


def daily_sources() -> list[Source]:
    return [s for s in load_sources().values() if s.is_daily]
