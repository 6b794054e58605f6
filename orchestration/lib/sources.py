"""The landing sources, as declared in ``sources.yaml``: formats, mappings, types, rules."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import yaml

from orchestration.lib.lake import read_text
from orchestration.lib.paths import SOURCES_FILE
from orchestration.lib.settings import SOURCES_ENV, sources_file

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
DEFAULT_DAY_IN_NAME = "%Y-%m-%d"
# the strftime directives a file name's day may use, as the regex each stands for
DAY_DIRECTIVES = {"%Y": r"(?P<year>\d{4})", "%m": r"(?P<month>\d{2})", "%d": r"(?P<day>\d{2})"}
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DEFAULT_FRESH_BY = "09:00"
DEFAULT_DELIVER_BY = "06:00"
# the master data a daily source's rows name their deliverer by: a factory, or a supplier
DELIVERERS = ("factories.factory_id", "suppliers.supplier_id")
# what a platform's own sources file may set on a canonical source (columns: aliases only)
OVERLAY_SETTINGS = (
    "folder",
    "format",
    "encoding",
    "files",
    "day_in_name",
    "delimiter",
    "skip_rows",
    "timezone",
    "description",
    "max_quarantine_ratio",
    "fresh_by",
    "deliver_by",
    "columns",
)


class SourceConfigError(ValueError):
    """sources.yaml says something the ingestion cannot follow."""


def day_pattern(spec: str | None) -> re.Pattern | None:
    """The regex that finds a file name's day, from a source's ``day_in_name``.

    ``spec`` is a strftime-like pattern (``%Y%m%d``, ``%Y_%m_%d``, ``day%Y-%m-%d``: ``%Y``,
    ``%m`` and ``%d`` each once, anything else literal) or a regular expression with the
    named groups ``year``, ``month`` and ``day``; None means the names carry no day.
    """
    if spec is None:
        return None
    if "(?P<" in spec:
        try:
            pattern = re.compile(spec)
        except re.error as err:
            raise SourceConfigError(f"day_in_name {spec!r} is not a valid regular expression: {err}") from err
        missing = {"year", "month", "day"} - set(pattern.groupindex)
        if missing:
            raise SourceConfigError(f"day_in_name {spec!r} lacks the named group(s) {sorted(missing)}")
        return pattern
    if any(spec.count(d) != 1 for d in DAY_DIRECTIVES):
        raise SourceConfigError(
            f"day_in_name {spec!r} must hold %Y, %m and %d once each (e.g. '%Y%m%d' or '%Y-%m-%d'), "
            "be a regex with the groups year, month and day, or be null when names carry no day"
        )
    parts = re.split(r"(%[Ymd])", spec)
    body = "".join(DAY_DIRECTIVES.get(p, re.escape(p)) for p in parts)
    # a digit right before the day belongs to something else (a sequence number); digits
    # after it may be a time of day (20261111093000)
    return re.compile(rf"(?<!\d){body}")


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
    day_in_name: str | None = DEFAULT_DAY_IN_NAME
    delimiter: str = ","
    skip_rows: int = 0
    folder: str | None = None  # below the landing root; None: the source's name, "": the root itself
    # a daily source's yesterday must be in bronze by this time of day (HH:MM in ``timezone``)
    fresh_by: str = DEFAULT_FRESH_BY
    # a daily source's files for a business day are due in the landing zone by this time of
    # the next day (HH:MM in ``timezone``): the supplier scorecard measures lateness against it
    deliver_by: str = DEFAULT_DELIVER_BY

    @property
    def entity(self) -> str:
        return self.name

    @property
    def is_daily(self) -> bool:
        return self.event_time is not None

    @property
    def landing_dir(self) -> str:
        """Where its files are: ``landing/<source>/`` unless ``folder`` says otherwise (a
        platform that delivers every export into one folder tells them apart by ``files``)."""
        folder = self.name if self.folder is None else self.folder.strip("/")
        return f"landing/{folder}".rstrip("/")

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
    def deliverer(self) -> str | None:
        """The column naming who delivered each row (a factory, or a supplier), from the
        contract's references; None for a source the platform's own systems deliver."""
        for target in DELIVERERS:
            for col in self.columns:
                if col.references and ".".join(col.references) == target:
                    return col.name
        return None

    def due_at(self, day: date) -> datetime:
        """When the files of business ``day`` are due in the landing zone (UTC): ``deliver_by``
        on the next day, in the source's time zone."""
        hour, minute = (int(part) for part in self.deliver_by.split(":"))
        local = datetime.combine(day + timedelta(days=1), time(hour, minute), ZoneInfo(self.timezone))
        return local.astimezone(UTC)

    @property
    def references(self) -> set[str]:
        return {c.references[0] for c in self.columns if c.references}

    def day_of(self, file_name: str) -> date | None:
        """The business day in a file's name (``day_in_name``), None when it has none.

        A daily file without a day in its name is split by its rows' event time instead.
        """
        pattern = day_pattern(self.day_in_name)
        if pattern is None:
            return None
        for match in pattern.finditer(file_name):
            try:
                return date(int(match["year"]), int(match["month"]), int(match["day"]))
            except ValueError:
                continue  # eight digits that are no date (a sequence number): look further
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


def _source(name: str, spec: dict, defaults: dict) -> Source:
    _check_name("source", name)
    fmt = spec.get("format")
    if fmt not in FORMATS:
        raise SourceConfigError(f"sources.yaml: {name} has format {fmt!r}; use one of {FORMATS}")
    if spec.get("domain") not in DOMAINS:
        raise SourceConfigError(f"sources.yaml: {name} has domain {spec.get('domain')!r}; use one of {DOMAINS}")
    columns = tuple(_column(name, col, colspec or {}) for col, colspec in (spec.get("columns") or {}).items())
    names = {c.name for c in columns}
    key = tuple(spec.get("key", ()))
    for k in key:
        if k not in names:
            raise SourceConfigError(f"sources.yaml: {name} key column {k!r} is not among its columns")
    event_time = spec.get("event_time")
    if event_time is not None and event_time not in names:
        raise SourceConfigError(f"sources.yaml: {name} event_time {event_time!r} is not among its columns")
    day_in_name = spec.get("day_in_name", DEFAULT_DAY_IN_NAME)
    try:
        day_pattern(day_in_name)
    except SourceConfigError as err:
        raise SourceConfigError(f"sources.yaml: {name}: {err}") from None
    delimiter = str(spec.get("delimiter", ","))
    if len(delimiter) != 1:
        raise SourceConfigError(
            f"sources.yaml: {name} has delimiter {delimiter!r}; use one character, e.g. ';' or '\\t'"
        )
    skip_rows = spec.get("skip_rows", 0)
    if not isinstance(skip_rows, int) or skip_rows < 0:
        raise SourceConfigError(
            f"sources.yaml: {name} has skip_rows {skip_rows!r}; use the number of lines above the header"
        )
    encoding = spec.get("encoding", defaults.get("encoding", "utf-8"))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceConfigError(
            f"sources.yaml: {name} has encoding {encoding!r}, which Python does not know; "
            "use e.g. utf-8, utf-8-sig, gb18030 or gbk"
        ) from None
    fresh_by = _clock(name, spec, defaults, "fresh_by", DEFAULT_FRESH_BY, "yesterday's data is due in bronze")
    deliver_by = _clock(name, spec, defaults, "deliver_by", DEFAULT_DELIVER_BY, "a day's files are due the next day")
    folder = spec.get("folder")
    if folder is not None and (not isinstance(folder, str) or ".." in folder.split("/") or folder.startswith("/")):
        raise SourceConfigError(
            f"sources.yaml: {name} has folder {folder!r}; use a folder below the landing zone, or '' for the zone itself"
        )
    return Source(
        name=name,
        domain=spec["domain"],
        description=spec.get("description", ""),
        format=fmt,
        files=spec.get("files", f"{name}_*"),
        key=key,
        columns=columns,
        encoding=encoding,
        timezone=spec.get("timezone", defaults.get("timezone", "Asia/Shanghai")),
        event_time=event_time,
        max_quarantine_ratio=float(spec.get("max_quarantine_ratio", defaults.get("max_quarantine_ratio", 0.05))),
        day_in_name=day_in_name,
        delimiter=delimiter,
        skip_rows=skip_rows,
        folder=None if folder is None else folder.strip("/"),
        fresh_by=fresh_by,
        deliver_by=deliver_by,
    )


def _clock(name: str, spec: dict, defaults: dict, key: str, default: str, what: str) -> str:
    """A time of day setting as HH:MM, or a clear error."""
    value = spec.get(key, defaults.get(key, default))
    if isinstance(value, int) and not isinstance(value, bool):  # YAML reads an unquoted 9:30 as 570 (minutes)
        value = f"{value // 60:02d}:{value % 60:02d}"
    value = str(value)
    if not CLOCK.match(value):
        raise SourceConfigError(
            f"sources.yaml: {name} has {key} {value!r}; write the time of day {what} as HH:MM, e.g. '{default}'"
        )
    return value


def parse_sources(doc: dict) -> dict[str, Source]:
    """Turn the YAML document into validated :class:`Source` objects.

    References to a master entity the document does not declare are dropped: a platform
    that delivers no such master data cannot check against it (the onboarding dry run
    and the run summary say which sources are absent).
    """
    defaults = doc.get("defaults") or {}
    sources = {name: _source(name, spec or {}, defaults) for name, spec in (doc.get("sources") or {}).items()}
    canonical = _document(SOURCES_FILE)["sources"]
    for name, source in list(sources.items()):
        columns = []
        for col in source.columns:
            if col.references and col.references[0] not in sources:
                if col.references[0] not in canonical:
                    raise SourceConfigError(
                        f"sources.yaml: {source.name}.{col.name} references unknown source {col.references[0]!r}"
                    )
                col = replace(col, references=None)
            columns.append(col)
        sources[name] = replace(source, columns=tuple(columns))
    return sources


def overlay(platform: dict, base: dict | None = None) -> dict:
    """A platform's own sources file laid over the built-in one: the document to parse.

    Only the sources the platform lists are delivered. For a canonical source it may set
    how its files look (:data:`OVERLAY_SETTINGS`) and, per column, more ``aliases``;
    types, keys, the event time and the rules stay those of the built-in entry, which
    the marts are written against. A source that is not canonical is declared whole.
    """
    base = base or _document(SOURCES_FILE)
    canonical = base["sources"]
    defaults = {**(base.get("defaults") or {}), **(platform.get("defaults") or {})}
    merged: dict[str, dict] = {}
    for name, spec in (platform.get("sources") or {}).items():
        spec = spec or {}
        if name not in canonical:
            merged[name] = spec
            continue
        unknown = set(spec) - set(OVERLAY_SETTINGS)
        if unknown:
            raise SourceConfigError(
                f"{name}: a platform's sources file may set {', '.join(OVERLAY_SETTINGS)} of a canonical source, "
                f"not {sorted(unknown)}; the types, key and rules of {name} are fixed by the marts built on it"
            )
        entry = {**canonical[name], **{k: v for k, v in spec.items() if k != "columns"}}
        columns = {col: dict(colspec or {}) for col, colspec in canonical[name]["columns"].items()}
        for col, colspec in (spec.get("columns") or {}).items():
            if col not in columns:
                raise SourceConfigError(
                    f"{name}: has no canonical column {col!r} (it has {', '.join(columns)}); "
                    "map a delivered header to one of them with `aliases`"
                )
            extra = set(colspec or {}) - {"aliases"}
            if extra:
                raise SourceConfigError(
                    f"{name}.{col}: a platform's sources file may add `aliases` to a canonical column, not {sorted(extra)}"
                )
            aliases = [a for a in (colspec or {}).get("aliases", ()) if a not in columns[col].get("aliases", ())]
            columns[col]["aliases"] = [*aliases, *columns[col].get("aliases", ())]
        entry["columns"] = columns
        merged[name] = entry
    return {"defaults": defaults, "sources": merged}


@lru_cache(maxsize=8)
def _document(path: str | Path) -> dict:
    try:
        doc = yaml.safe_load(read_text(path)) or {}
    except FileNotFoundError:
        raise SourceConfigError(
            f"the sources file {path} does not exist; set {SOURCES_ENV} to your platform's sources file "
            "(`supplyloop onboard <folder>` proposes one)"
        ) from None
    except yaml.YAMLError as err:
        raise SourceConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), dict):
        raise SourceConfigError(f"{path} has no `sources:` mapping; see docs/sources.md")
    return doc


def _effective(path: str | Path) -> dict:
    """The document to parse: the built-in file as it is, a platform's file over it.

    A platform's file is a local path or ``s3://bucket/key`` (in the cloud, a file the
    operator uploaded beside the lake)."""
    if not str(path).startswith("s3://"):
        path = Path(path).resolve()
    doc = _document(path)
    return doc if path == SOURCES_FILE else overlay(doc)


def load_sources(path: str | Path | None = None) -> dict[str, Source]:
    """The sources this platform delivers, keyed by entity name.

    ``path`` defaults to :func:`sources_file` (``$SUPPLYLOOP_SOURCES``, else the built-in
    file). A platform's own file is laid over the built-in one (:func:`overlay`).
    """
    try:
        return parse_sources(_effective(path or sources_file()))
    except SourceConfigError as err:
        where = path or sources_file()
        raise SourceConfigError(str(err) if str(where) in str(err) else f"{where}: {err}") from None


def canonical_sources() -> dict[str, Source]:
    """Every source the marts are built on, as the built-in sources.yaml declares them."""
    return parse_sources(_document(SOURCES_FILE))


def absent_sources(path: str | Path | None = None) -> list[str]:
    """The canonical sources this platform does not deliver, by name."""
    delivered = load_sources(path)
    return [name for name in canonical_sources() if name not in delivered]


def history_start(path: str | Path | None = None) -> date:
    """The first business day the daily partitions cover (``defaults.history_start``)."""
    value = (_effective(path or sources_file()).get("defaults") or {}).get("history_start", "2025-11-01")
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def master_sources() -> list[Source]:
    return [s for s in load_sources().values() if not s.is_daily]


def daily_sources() -> list[Source]:
    return [s for s in load_sources().values() if s.is_daily]
