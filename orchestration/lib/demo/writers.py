"""Landing files exactly as sources.yaml declares them: one writer per format.

The contract decides the file name (its ``files`` pattern), the format and the encoding;
this module only decides which of a column's declared names is printed as its header
(the Chinese ERP and MES exports use their Chinese aliases). Every file is rendered to
bytes and written through the :class:`LakeStore`, so a local lake and S3 behave alike,
and nothing in a file depends on the clock: the same tables give the same bytes.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.lib.demo.fields import rng_for
from orchestration.lib.lake import PARQUET_OPTIONS, LakeStore
from orchestration.lib.sources import Source

# Sources exported by Chinese-language systems print a column's first alias as its header.
CHINESE_HEADERS = frozenset({"products", "production_output", "work_orders"})
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed entry times keep workbooks byte-identical
UTF8_BOM = b"\xef\xbb\xbf"


def headers(source: Source, columns: list[str] | None = None) -> list[str]:
    """The header each canonical column is delivered under."""
    names = columns or [c.name for c in source.columns]
    if source.name not in CHINESE_HEADERS:
        return names
    return [(source.column(n).aliases or (n,))[0] for n in names]


def landing_path(source: Source, day: date, variant: str = "") -> str:
    """``landing/<source>/<source>_YYYY-MM-DD<variant>.<ext>`` from the source's file pattern."""
    return f"{source.landing_dir}/{source.files.replace('*', day.isoformat() + variant)}"


def render(
    source: Source, table: pa.Table, day: date, header: list[str] | None = None, with_header: bool = True
) -> bytes:
    """A table of canonical columns as the bytes of one landing file of ``source``."""
    names = header or headers(source, table.column_names)
    return RENDERERS[source.format](table.rename_columns(names), source, day, with_header)


def write(store: LakeStore, rel: str, data: bytes) -> str:
    """Put one file in the lake, all at once."""
    store.write_bytes(rel, data)
    return rel


# A day's exports leave the factories and the platform's systems overnight: most are in the
# landing zone a few hours after midnight, some after their deadline (deliver_by, 06:00).
ARRIVAL_HOURS = (1.0, 5.5)
LATE_SHARE = 0.05
LATE_HOURS = (6.5, 14.0)


def arrival(source: Source, day: date, seed: int) -> datetime:
    """When the demo's file of ``source`` for ``day`` reached the landing zone (UTC): the night
    after the day, or, for about one file in twenty, late in the following morning."""
    rng = rng_for(seed, f"arrival:{source.name}", day)
    late = rng.random() < LATE_SHARE
    hours = rng.uniform(*(LATE_HOURS if late else ARRIVAL_HOURS))
    local = datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(source.timezone)) + timedelta(hours=hours)
    return local.astimezone(UTC)


def stamp_arrival(store: LakeStore, rel: str, when: datetime) -> None:
    """Give a landing file its arrival time (a folder's files only: S3 keeps the upload's time).
    Never a time still to come: a file cannot have arrived after it was written."""
    if store.is_s3:
        return
    stamp = min(when.timestamp(), datetime.now(UTC).timestamp())
    os.utime(store.fs_path(rel), (stamp, stamp))


# -- one renderer per format ------------------------------------------------------------


def _csv(table: pa.Table, source: Source, day: date, with_header: bool) -> bytes:
    """CSV as an ERP exports it: unquoted, header first, in the source's encoding."""
    buffer = io.BytesIO()
    if with_header:
        buffer.write((",".join(table.column_names) + "\n").encode("utf-8"))
    if table.num_rows:
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    data = buffer.getvalue()
    encoding = source.encoding.lower().replace("_", "-")
    if encoding in ("utf-8", "utf8"):
        return data
    if encoding in ("utf-8-sig", "utf8-sig"):
        return UTF8_BOM + data if with_header else data
    return data.decode("utf-8").encode(source.encoding)


def _jsonl(table: pa.Table, source: Source, day: date, with_header: bool) -> bytes:
    """One JSON object per line, keys in the contract's order, non-ASCII kept readable."""
    lines = (json.dumps(row, ensure_ascii=False, default=str) for row in table.to_pylist())
    return "".join(line + "\n" for line in lines).encode(source.encoding)


def _parquet(table: pa.Table, source: Source, day: date, with_header: bool) -> bytes:
    """Parquet with native types (dates as date32, counts as int64)."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        table, sink, compression=PARQUET_OPTIONS["compression"], compression_level=PARQUET_OPTIONS["compression_level"]
    )
    return sink.getvalue().to_pybytes()


def _xlsx(table: pa.Table, source: Source, day: date, with_header: bool) -> bytes:
    """A one-sheet workbook: times as Excel date-time cells, dates as date cells, money as 0.00."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.writer.excel import ExcelWriter

    book = openpyxl.Workbook(write_only=True)
    book.properties.created = book.properties.modified = datetime.combine(day, time(23, 30))
    sheet = book.create_sheet(source.name)
    if with_header:
        sheet.append(table.column_names)
    money = [pa.types.is_decimal(f.type) for f in table.schema]

    def cell(value, is_money: bool):
        if not is_money or value is None:
            return value
        c = WriteOnlyCell(sheet, value)
        c.number_format = "0.00"
        return c

    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for row in zip(*columns):
        sheet.append([cell(v, m) for v, m in zip(row, money)])
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    return _fixed_zip_times(raw.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """The same archive with every entry dated 1980-01-01, so the bytes never depend on the clock."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


RENDERERS: dict[str, Callable[[pa.Table, Source, date, bool], bytes]] = {
    "csv": _csv,
    "jsonl": _jsonl,
    "parquet": _parquet,
    "xlsx": _xlsx,
}
