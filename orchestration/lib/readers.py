"""Landing-file readers: one strategy per format, one shared mapping to canonical names.

Every reader turns a delivered file into an Arrow table of *text* columns under the
canonical names of its source, plus the data-row number of each row. Typing and row
rules happen afterwards, in one place (:mod:`orchestration.lib.rules`), so a value that
does not parse is quarantined with its original text rather than failing the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.lib.lake import LakeFile, LakeStore
from orchestration.lib.sources import Source

ROW = "_source_row"
FILE = "_source_file"
CHUNK_ROWS = 64 * 1024
SHOWN_CHARS = 80  # delivered text (headers, parser errors) quoted in a reason is cut to this


class FileRejected(Exception):
    """A delivered file that cannot be read at all; it is quarantined whole."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Malformed:
    """A row the format parser could not split into the expected fields."""

    row: int
    text: str
    why: str


@dataclass
class RawFile:
    """One file's rows as text under canonical names, plus rows that did not parse."""

    file: LakeFile
    table: pa.Table
    malformed: list[Malformed] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def rows_delivered(self) -> int:
        return self.table.num_rows + len(self.malformed)


# -- per-format strategies: bytes in, (header, text columns, malformed rows) out ----------


def _undecodable(name: str, encoding: str, detail: str) -> FileRejected:
    return FileRejected(
        "undecodable",
        f"{name}: {detail} are not valid {encoding}; re-export the file as {encoding}, or set `encoding` "
        "of this source in the sources file to the one the file was written in (e.g. gb18030, utf-8-sig)",
    )


def _csv_header(data: pa.Buffer, source: Source, name: str) -> list[str]:
    encoding = _python_codec(source.encoding)
    lines = data.slice(0, min(data.size, 1 << 16)).to_pybytes().split(b"\n", source.skip_rows + 1)
    first = lines[min(source.skip_rows, len(lines) - 1)].rstrip(b"\r")
    try:
        text = first.decode(encoding)
    except UnicodeDecodeError as err:
        raise _undecodable(name, encoding, f"the header's bytes {err.start}-{err.end} ({err.reason})") from err
    return next(csv.reader([text.lstrip("\ufeff")], delimiter=source.delimiter), [])


def _read_csv(data: pa.Buffer, source: Source, name: str) -> tuple[pa.Table, list[Malformed]]:
    header = _csv_header(data, source, name)
    if len(set(header)) != len(header):
        raise FileRejected(
            "unreadable_file",
            f"{name}: the header repeats a column name ({cut(', '.join(header))}); "
            "fix the export so each column appears once",
        )
    malformed: list[Malformed] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = (row.number or 0) - 1  # the reader counts the header as row 1
        malformed.append(
            Malformed(number, row.text, f"expected {row.expected_columns} fields, found {row.actual_columns}")
        )
        return "skip"

    arrow_encoding = source.encoding if _python_codec(source.encoding) not in ("utf-8", "utf-8-sig") else "utf8"
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                use_threads=False, encoding=arrow_encoding, block_size=8 << 20, skip_rows=source.skip_rows
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=source.delimiter, invalid_row_handler=on_invalid, newlines_in_values=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=True
            ),
        )
    except UnicodeDecodeError as err:
        raise _undecodable(name, source.encoding, f"bytes {err.start}-{err.end} ({err.reason})") from err
    except pa.ArrowInvalid as err:
        if "UTF8" in str(err) or "UTF-8" in str(err):
            raise _undecodable(name, source.encoding, f"some bytes ({err})") from err
        raise FileRejected(
            "unreadable_file",
            f"{name}: not a readable CSV ({cut(str(err))}); check the quoting of the export, "
            f"and `delimiter` of {source.name} in the sources file",
        ) from err
    table = table.rename_columns([c.lstrip("\ufeff") for c in table.column_names])
    return _with_row_numbers(table, [m.row for m in malformed]), malformed


def _read_jsonl(data: pa.Buffer, source: Source, name: str) -> tuple[pa.Table, list[Malformed]]:
    try:
        text = data.to_pybytes().decode(_python_codec(source.encoding))
    except UnicodeDecodeError as err:
        raise _undecodable(name, source.encoding, f"bytes {err.start}-{err.end} ({err.reason})") from err
    records: list[dict] = []
    numbers: list[int] = []
    malformed: list[Malformed] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            malformed.append(Malformed(number, line[:500], f"not a JSON object: {err}"))
            continue
        records.append(record)
        numbers.append(number)
    keys = list(dict.fromkeys(k for r in records for k in r))
    columns = {k: pa.array([_text(r.get(k)) for r in records], pa.string()) for k in keys}
    table = pa.table(columns) if columns else pa.table({})
    table = (
        table.append_column(ROW, pa.array(numbers, pa.int64()))
        if keys
        else pa.table({ROW: pa.array(numbers, pa.int64())})
    )
    return table, malformed


def _read_parquet(data: pa.Buffer, source: Source, name: str) -> tuple[pa.Table, list[Malformed]]:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as err:
        raise FileRejected(
            "unreadable_file",
            f"{name}: not a readable Parquet file ({cut(str(err))}), the upload was probably cut short; "
            "deliver the file again",
        ) from err
    table = pa.table({c: _as_text(table.column(c)) for c in table.column_names})
    return _with_row_numbers(table, []), []


def _read_xlsx(data: pa.Buffer, source: Source, name: str) -> tuple[pa.Table, list[Malformed]]:
    import openpyxl  # imported here: only XLSX sources pay for it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data.to_pybytes()), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many types for a broken workbook
        raise FileRejected(
            "unreadable_file",
            f"{name}: not a readable .xlsx workbook ({type(err).__name__}: {cut(str(err))}); "
            "open and re-save it in Excel, or deliver it again",
        ) from err
    try:
        rows = book.worksheets[0].iter_rows(values_only=True, min_row=source.skip_rows + 1)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        chunks, numbers, buffer = [], [], []
        for number, values in enumerate(rows, start=1):
            if values is None or all(v is None for v in values):
                continue
            buffer.append(values)
            numbers.append(number)
            if len(buffer) >= CHUNK_ROWS:
                chunks.append(_rows_to_table(header, buffer))
                buffer = []
        chunks.append(_rows_to_table(header, buffer))
    finally:
        book.close()
    table = pa.concat_tables(chunks) if chunks else pa.table({})
    return table.append_column(ROW, pa.array(numbers, pa.int64())), []


READERS: dict[str, Callable[[pa.Buffer, Source, str], tuple[pa.Table, list[Malformed]]]] = {
    "csv": _read_csv,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "xlsx": _read_xlsx,
}


# -- the shared part -------------------------------------------------------------------


def read_landing_file(store: LakeStore, source: Source, file: LakeFile) -> RawFile:
    """Read one delivered file into canonical text columns, or raise :class:`FileRejected`."""
    if file.size == 0:
        raise FileRejected(
            "empty_file", f"{file.name} is empty (0 bytes), the export probably failed; deliver the file again"
        )
    with store.open_input(file.path) as f:
        data = f.read_buffer()
    table, malformed = READERS[source.format](data, source, file.name)
    table, renamed = to_canonical(table, source, file.name)
    return RawFile(file=file, table=table, malformed=malformed, renamed=renamed)


def to_canonical(table: pa.Table, source: Source, name: str) -> tuple[pa.Table, dict[str, str]]:
    """Rename delivered headers to canonical names; add absent optional columns as empty.

    A required column that is absent under every known name rejects the file, with the
    headers it did find and the line of sources.yaml to change.
    """
    found = [c for c in table.column_names if c != ROW]
    lookup = {h.strip().lower(): h for h in found}
    columns: dict[str, pa.ChunkedArray] = {}
    renamed: dict[str, str] = {}
    missing: list[str] = []
    for col in source.columns:
        header = next((lookup[h.lower()] for h in col.headers if h.lower() in lookup), None)
        if header is None:
            if col.required:
                missing.append(col.name)
            columns[col.name] = pa.nulls(table.num_rows, pa.string())
            continue
        if header != col.name:
            renamed[header] = col.name
        columns[col.name] = table.column(header)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise FileRejected(
            "missing_column",
            f"{name} has no column {names} (found: {cut(', '.join(found))}); if the export renamed it, "
            f"add the new header to `aliases` of {source.name}.{missing[0]} in the sources file, "
            "otherwise deliver the file with that column",
        )
    columns[ROW] = table.column(ROW)
    return pa.table(columns), renamed


def malformed_fix(source: Source) -> str:
    """What to do about a row the parser of ``source``'s format could not split."""
    if source.format == "jsonl":
        return "write the line as one JSON object and deliver the file again"
    return (
        "quote the fields that hold the delimiter, a quote or a line break, and deliver the file again "
        f"(or correct `delimiter` of {source.name} in the sources file)"
    )


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    """Delivered text as a reason shows it: at most ``limit`` characters, "..." marking a cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _with_row_numbers(table: pa.Table, skipped: list[int]) -> pa.Table:
    """Number the rows 1..n as delivered, leaving out the numbers of rows the parser skipped."""
    total = table.num_rows + len(skipped)
    numbers = np.arange(1, total + 1, dtype=np.int64)
    if skipped:
        numbers = np.setdiff1d(numbers, np.asarray(skipped, dtype=np.int64), assume_unique=True)
    return table.append_column(ROW, pa.array(numbers))


def _rows_to_table(header: list[str], rows: list[tuple]) -> pa.Table:
    """Spreadsheet rows as text columns, one per non-empty header cell."""
    return pa.table(
        {
            h: pa.array([_text(r[i]) if i < len(r) else None for r in rows], pa.string())
            for i, h in enumerate(header)
            if h
        }
    )


def _text(value: object) -> str | None:
    """A cell as the text a person would have typed (Excel dates as ISO, 12.0 as 12)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A typed Parquet column as text; timestamps keep their offset, dates stay ISO."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def _python_codec(encoding: str) -> str:
    """The canonical Python name of an encoding ("UTF8" -> "utf-8", "GBK" -> "gbk")."""
    return codecs.lookup(encoding).name
