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
import os
from collections import Counter
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
RAW_CHARS = 4096  # a quarantined row's delivered text (``_raw_text``) is cut to this
MAX_LINE_MB_ENV = "INGEST_MAX_LINE_MB"
MAX_LINE_MB = 8  # a delivered line (one row) longer than this is quarantined, not parsed
MB = 1 << 20


class FileRejected(Exception):
    """A delivered file whose rows cannot be loaded; it is quarantined whole.

    ``rows``: its data rows as delivered text, numbered, when the file can still be split
    into rows (a CSV or JSON Lines file by its lines, a workbook or Parquet file by its rows),
    so each is kept as a quarantine row of its own; None when it cannot (no bytes, bytes
    that do not decode, a file that does not open). ``delivered``: how many rows it held,
    when known.
    """

    def __init__(self, code: str, message: str, rows: list[tuple[int, str]] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.rows = rows

    @property
    def delivered(self) -> int | None:
        if self.code == "empty_file":
            return 0
        return None if self.rows is None else len(self.rows)


@dataclass
class Malformed:
    """A row the format parser could not split into the expected fields (or too long to try)."""

    row: int
    text: str
    why: str
    fix: str | None = None  # what to do, when not the format's usual fix (:func:`malformed_fix`)


def max_line_bytes() -> int:
    """The longest line (one row) a reader parses: ``$INGEST_MAX_LINE_MB`` MB, default 8."""
    value = os.environ.get(MAX_LINE_MB_ENV, "")
    try:
        mb = float(value) if value else MAX_LINE_MB
    except ValueError:
        raise ValueError(f"{MAX_LINE_MB_ENV}={value!r} is not a number of megabytes, e.g. 8 or 0.5") from None
    return max(1, int(mb * MB))


def raw_text(text: str | None) -> str | None:
    """Delivered text as ``_raw_text`` keeps it: at most :data:`RAW_CHARS` characters."""
    return None if text is None else cut(text, RAW_CHARS)


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


def _line_end(data: pa.Buffer, start: int, limit: int) -> int | None:
    """Where the line from ``start`` ends (its newline, or the end of the data); None when
    it runs on past ``limit`` bytes."""
    length = min(limit + 1, data.size - start)
    end = data.slice(start, length).to_pybytes().find(b"\n")
    if end >= 0:
        return start + end
    return data.size if length <= limit else None


def _csv_header(data: pa.Buffer, source: Source, name: str) -> list[str]:
    """The header line, read whole (however many columns), after ``skip_rows`` lines."""
    encoding = _python_codec(source.encoding)
    limit = max_line_bytes()
    start = 0
    for line in range(source.skip_rows + 1):
        end = _line_end(data, start, limit)
        if end is None:
            what = "header line" if line == source.skip_rows else f"line {line + 1} above the header"
            raise FileRejected(
                "unreadable_file",
                f"{name}: its {what} is longer than {_size(limit)} (no line break); check that the export "
                f"has line breaks and `skip_rows` of {source.name} in the sources file, or raise {MAX_LINE_MB_ENV}",
            )
        if line < source.skip_rows:
            start = min(end + 1, data.size)
    first = data.slice(start, end - start).to_pybytes().rstrip(b"\r")
    try:
        text = first.decode(encoding)
    except UnicodeDecodeError as err:
        raise _undecodable(name, encoding, f"the header's bytes {err.start}-{err.end} ({err.reason})") from err
    return next(csv.reader([text.lstrip("\ufeff")], delimiter=source.delimiter), [])


def _long_lines(data: pa.Buffer, source: Source, name: str) -> tuple[pa.Buffer, list[Malformed]]:
    """The data without its lines over :func:`max_line_bytes`, and each of those as a malformed
    row (numbered as the reader numbers rows: non-empty lines after the header), its text cut."""
    limit = max_line_bytes()
    if data.size <= limit:
        return data, []
    array = np.frombuffer(data, dtype=np.uint8)
    step = 64 * MB
    breaks = np.concatenate(
        [np.flatnonzero(array[i : i + step] == 10) + i for i in range(0, data.size, step)] or [np.zeros(0, np.int64)]
    )
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [data.size]])
    lengths = ends - starts
    long = np.flatnonzero(lengths > limit)
    if not long.size:
        return data, []
    first_data = source.skip_rows + 1
    row_of = np.cumsum((lengths > 0) & (np.arange(lengths.size) >= first_data))
    codec = _python_codec(source.encoding)
    malformed, pieces, kept_from = [], [], 0
    for i in long:
        if i < first_data:
            continue  # the header's own length is judged by _csv_header
        start, end = int(starts[i]), int(ends[i])
        text = data.slice(start, min(RAW_CHARS * 4, end - start)).to_pybytes().decode(codec, errors="replace")
        malformed.append(_too_long(int(row_of[i]), text + "...", end - start, limit))
        pieces.append(data.slice(kept_from, start - kept_from))
        kept_from = min(end + 1, data.size)
    pieces.append(data.slice(kept_from))
    return pa.py_buffer(b"".join(p.to_pybytes() for p in pieces)), malformed


def _size(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB // 10 else f"{n / 1024:.3g} KB"


def _too_long(row: int, text: str, size: int, limit: int) -> Malformed:
    return Malformed(
        row,
        raw_text(text),
        f"the line is {_size(size)}, over the limit of {_size(limit)} for one row ({MAX_LINE_MB_ENV}), "
        f"so it is not parsed; its first {RAW_CHARS} characters are kept",
        "split the value that makes it so long, or leave the row out, and deliver the file again "
        f"(or raise {MAX_LINE_MB_ENV} if rows this long are expected)",
    )


def _read_csv(data: pa.Buffer, source: Source, name: str) -> tuple[pa.Table, list[Malformed]]:
    header = _csv_header(data, source, name)
    repeated = [h for h, n in Counter(header).items() if n > 1]
    if repeated:
        raise FileRejected(
            "unreadable_file",
            f"{name}: the header repeats the column name(s) {cut(', '.join(repr(h) for h in repeated))} "
            f"(of {len(header)} columns); fix the export so each column appears once",
        )
    _require_columns([h.lstrip("\ufeff") for h in header], source, name)
    data, malformed = _long_lines(data, source, name)
    block = max(8 * MB, max_line_bytes() + MB)

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = (row.number or 0) - 1  # the reader counts the header as row 1
        for taken_out in long_rows:  # rows _long_lines took out before it
            number += taken_out.row <= number
        malformed.append(
            Malformed(number, raw_text(row.text), f"expected {row.expected_columns} fields, found {row.actual_columns}")
        )
        return "skip"

    long_rows = list(malformed)

    arrow_encoding = source.encoding if _python_codec(source.encoding) not in ("utf-8", "utf-8-sig") else "utf8"
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                use_threads=False, encoding=arrow_encoding, block_size=block, skip_rows=source.skip_rows
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
            raise _undecodable(name, source.encoding, f"some bytes ({cut(str(err))})") from err
        if "straddl" in str(err):
            raise FileRejected(
                "unreadable_file",
                f"{name}: a row runs on for more than {_size(block)} across line breaks, most likely a quote "
                "that is never closed, so the rest of the file reads as one value; check the quoting of the export",
            ) from err
        raise FileRejected(
            "unreadable_file",
            f"{name}: not a readable CSV ({cut(str(err))}); check the quoting of the export, "
            f"and `delimiter` of {source.name} in the sources file",
        ) from err
    table = table.rename_columns([c.lstrip("\ufeff") for c in table.column_names])
    malformed.sort(key=lambda m: m.row)
    return _with_row_numbers(table, [m.row for m in malformed]), malformed


def _read_jsonl(data: pa.Buffer, source: Source, name: str) -> tuple[pa.Table, list[Malformed]]:
    try:
        text = data.to_pybytes().decode(_python_codec(source.encoding))
    except UnicodeDecodeError as err:
        raise _undecodable(name, source.encoding, f"bytes {err.start}-{err.end} ({err.reason})") from err
    records: list[dict] = []
    numbers: list[int] = []
    malformed: list[Malformed] = []
    limit = max_line_bytes()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) * 4 > limit and len(line.encode()) > limit:
            malformed.append(_too_long(number, line, len(line.encode()), limit))
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            malformed.append(Malformed(number, raw_text(line), f"not a JSON object: {cut(str(err))}"))
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
    """Read one delivered file into canonical text columns, or raise :class:`FileRejected`.

    A file refused by the listing (a link out of the landing zone) is never opened. A file
    rejected whole carries its data rows as text where it can be split into rows.
    """
    if file.refused:
        raise FileRejected(
            "outside_landing",
            f"{file.path} is {file.refused}, so it is not read (the landing zone reads only files delivered "
            "into it); put the file itself there in place of the link, or remove the link",
        )
    if file.size == 0:
        raise FileRejected(
            "empty_file", f"{file.name} is empty (0 bytes), the export probably failed; deliver the file again"
        )
    with store.open_input(file.path) as f:
        data = f.read_buffer()
    try:
        table, malformed = READERS[source.format](data, source, file.name)
        table, renamed = to_canonical(table, source, file.name)
    except FileRejected as err:
        if err.code in ("missing_column", "unreadable_file") and err.rows is None:
            err.rows = data_rows(data, source)
        raise
    return RawFile(file=file, table=table, malformed=malformed, renamed=renamed)


def data_rows(data: pa.Buffer, source: Source) -> list[tuple[int, str]] | None:
    """A rejected file's data rows as delivered text (cut to :data:`RAW_CHARS`), numbered as
    its reader numbers them; None when the file cannot be split into rows.

    CSV and JSON Lines split by lines (after ``skip_rows`` and the header, for CSV), a
    workbook by its rows (cells joined as CSV), Parquet by its rows (as JSON objects).
    """
    try:
        if source.format in ("csv", "jsonl"):
            text = data.to_pybytes().decode(_python_codec(source.encoding)).lstrip("\ufeff")
            if source.format == "jsonl":  # numbered by line, as _read_jsonl numbers them
                return [(n, raw_text(line)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            lines = [line.rstrip("\r") for line in text.split("\n")[source.skip_rows + 1 :]]
            return [(n, raw_text(line)) for n, line in enumerate((line for line in lines if line), 1)]
        if source.format == "parquet":
            rows = pq.read_table(pa.BufferReader(data)).to_pylist()
            return [(n, raw_text(json.dumps(r, ensure_ascii=False, default=str))) for n, r in enumerate(rows, 1)]
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data.to_pybytes()), read_only=True, data_only=True)
        try:
            found = []
            rows = book.worksheets[0].iter_rows(values_only=True, min_row=source.skip_rows + 2)
            for number, values in enumerate(rows, start=1):
                if values is None or all(v is None for v in values):
                    continue
                out = io.StringIO()
                csv.writer(out, lineterminator="").writerow(["" if v is None else _text(v) for v in values])
                found.append((number, raw_text(out.getvalue())))
            return found
        finally:
            book.close()
    except Exception:  # noqa: BLE001 - a file that does not split is kept as one row
        return None


def to_canonical(table: pa.Table, source: Source, name: str) -> tuple[pa.Table, dict[str, str]]:
    """Rename delivered headers to canonical names; add absent optional columns as empty.

    A required column that is absent under every known name rejects the file, with the
    headers it did find and the line of sources.yaml to change.
    """
    found = [c for c in table.column_names if c != ROW]
    lookup = _require_columns(found, source, name)
    columns: dict[str, pa.ChunkedArray] = {}
    renamed: dict[str, str] = {}
    for col in source.columns:
        header = next((lookup[h.lower()] for h in col.headers if h.lower() in lookup), None)
        if header is None:
            columns[col.name] = pa.nulls(table.num_rows, pa.string())
            continue
        if header != col.name:
            renamed[header] = col.name
        columns[col.name] = table.column(header)
    columns[ROW] = table.column(ROW)
    return pa.table(columns), renamed


def _require_columns(found: list[str], source: Source, name: str) -> dict[str, str]:
    """The delivered headers by their lower-case name; a required column absent under every
    known name rejects the file, naming the headers found and the line of the sources file to change."""
    lookup = {h.strip().lower(): h for h in found}
    missing = [c.name for c in source.columns if c.required and not any(h.lower() in lookup for h in c.headers)]
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise FileRejected(
            "missing_column",
            f"{name} has no column {names} (found: {cut(', '.join(found))}); if the export renamed it, "
            f"add the new header to `aliases` of {source.name}.{missing[0]} in the sources file, "
            "otherwise deliver the file with that column",
        )
    return lookup


def malformed_fix(source: Source, row: Malformed | None = None) -> str:
    """What to do about a row the parser of ``source``'s format could not split."""
    if row is not None and row.fix:
        return row.fix
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
