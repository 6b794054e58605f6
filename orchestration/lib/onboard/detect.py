"""What a delivered file is: format, encoding, delimiter, header row; and a sample of its rows.

Each detector returns a :class:`Guess`: the value, a confidence between 0 and 1, and the
evidence in words, so the proposal can say why it chose what it chose.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.onboard.naming import EXTENSIONS, split_name

SAMPLE_BYTES = 256 * 1024
SAMPLE_ROWS = 200
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Guess:
    value: object
    confidence: float
    evidence: str


@dataclass
class Sample:
    """A file's header and its first rows as text, as the proposal would read them."""

    headers: list[str]
    rows: list[dict[str, str | None]]
    total_rows: int | None = None  # when known cheaply (Parquet metadata), else None

    def values(self, header: str) -> list[str]:
        return [v for r in self.rows if (v := r.get(header)) not in (None, "")]


def head(path: Path, size: int = SAMPLE_BYTES) -> tuple[bytes, bool]:
    """The first ``size`` bytes of a file, and whether that is the whole file."""
    with open(path, "rb") as f:
        data = f.read(size + 1)
    return data[:size], len(data) <= size


# -- format ------------------------------------------------------------------------------


def detect_format(name: str, data: bytes) -> Guess:
    """csv, jsonl, parquet or xlsx: by the bytes first (magic numbers), then the extension."""
    _, ext = split_name(name)
    by_ext = EXTENSIONS.get(ext)
    if data.startswith(b"PAR1"):
        return Guess("parquet", 1.0 if by_ext == "parquet" else 0.9, "starts with the Parquet magic bytes PAR1")
    if data.startswith(b"PK\x03\x04"):
        return Guess("xlsx", 1.0 if by_ext == "xlsx" else 0.8, "a zip archive (an Excel workbook)")
    text = data.lstrip(UTF8_BOM).lstrip()
    if text.startswith(b"{"):
        first = text.split(b"\n", 1)[0].strip()
        try:
            json.loads(first.decode("utf-8", errors="replace"))
            return Guess("jsonl", 1.0 if by_ext == "jsonl" else 0.85, "each line is a JSON object")
        except ValueError:
            return Guess("jsonl", 0.6, "starts with '{' but its first line is not one JSON object")
    if by_ext in ("csv", None):
        evidence = f"extension {ext}" if ext else "no extension; text that is not JSON"
        return Guess("csv", 0.95 if by_ext == "csv" else 0.6, evidence)
    return Guess(by_ext, 0.5, f"extension {ext}, but the bytes do not look like it")


# -- encoding ----------------------------------------------------------------------------


def _decodes(data: bytes, encoding: str, complete: bool) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(data, final=complete)  # a cut sample may end inside a character
        return True
    except UnicodeDecodeError:
        return False


def detect_encoding(data: bytes, complete: bool = True) -> Guess:
    """utf-8-sig (a BOM), utf-8, or gb18030 (which reads GBK and GB2312 too): whichever decodes."""
    if data.startswith(UTF8_BOM):
        return Guess("utf-8-sig", 1.0, "starts with a UTF-8 byte-order mark")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Guess("utf-16", 0.95, "starts with a UTF-16 byte-order mark")
    if _decodes(data, "utf-8", complete):
        if data.isascii():
            return Guess("utf-8", 0.8, "plain ASCII so far: UTF-8 reads it, and so would any other encoding")
        return Guess("utf-8", 0.98, "non-ASCII text that is valid UTF-8")
    if _decodes(data, "gb18030", complete):
        return Guess("gb18030", 0.9, "not valid UTF-8; decodes as GB18030 (the superset of GBK and GB2312)")
    for encoding in ("big5", "shift_jis", "cp1252"):
        if _decodes(data, encoding, complete):
            return Guess(encoding, 0.4, f"neither UTF-8 nor GB18030; {encoding} decodes it")
    return Guess("latin-1", 0.1, "no common encoding decodes it; check how the file was exported")


def decode(data: bytes, encoding: str, complete: bool = True) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(data, final=complete)
    return text.lstrip("\ufeff")


# -- delimiter and header row ------------------------------------------------------------


def _lines(text: str, complete: bool, limit: int = 50) -> list[str]:
    lines = text.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the last line of a cut sample is cut too
    return lines[:limit]


def _fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def detect_delimiter(lines: list[str]) -> Guess:
    """The character that splits the lines into the same number (>1) of fields most consistently."""
    lines = [line for line in lines if line.strip()]
    if not lines:
        return Guess(",", 0.3, "no lines to look at; the CSV default")
    best = None
    for delimiter in DELIMITERS:
        counts = [len(_fields(line, delimiter)) for line in lines]
        width, agree = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        share = agree / len(counts)
        score = (share, width)
        if best is None or score > best[0]:
            best = (score, delimiter, width, agree)
    if best is None:
        return Guess(",", 0.3, "no delimiter splits the lines; one column, or not a CSV")
    (share, _), delimiter, width, agree = best
    evidence = f"{width} fields split by {DELIMITER_NAMES[delimiter]} on {agree} of the first {len(lines)} lines"
    return Guess(delimiter, round(min(1.0, 0.5 + share / 2), 2), evidence)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def detect_header_row(lines: list[str], delimiter: str) -> Guess:
    """How many lines come before the header: titles, export notes and blank lines above the table.

    The header is the first line as wide as most lines below it whose cells are words,
    not numbers.
    """
    widths = [len(_fields(line, delimiter)) if line.strip() else 0 for line in lines]
    if not widths:
        return Guess(0, 0.3, "no lines to look at")
    width = Counter(w for w in widths if w).most_common(1)[0][0]
    for index, line in enumerate(lines):
        cells = [c.strip() for c in _fields(line, delimiter)] if line.strip() else []
        if len(cells) != width or not all(cells) or any(_is_number(c) for c in cells):
            continue
        if index == 0:
            return Guess(0, 0.95, "the first line holds the column names")
        above = "; ".join(repr(line.strip()[:40]) for line in lines[:index] if line.strip()) or "blank lines"
        return Guess(index, 0.85, f"{index} line(s) above the header ({above})")
    return Guess(0, 0.4, "no line looks like a header (names, not numbers); assuming the first")


# -- reading a sample --------------------------------------------------------------------


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def sample_csv(text: str, delimiter: str, skip_rows: int, limit: int = SAMPLE_ROWS) -> Sample:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for _ in range(skip_rows):
        next(reader, None)
    headers = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    rows = []
    for cells in reader:
        if len(rows) >= limit:
            break
        if not any(c.strip() for c in cells):
            continue
        rows.append({h: (cells[i] if i < len(cells) else None) for i, h in enumerate(headers)})
    return Sample(headers, rows)


def sample_jsonl(text: str, limit: int = SAMPLE_ROWS) -> Sample:
    rows, headers = [], {}
    for line in text.splitlines():
        if len(rows) >= limit:
            break
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            headers.update(dict.fromkeys(record))
            rows.append({k: _text(v) for k, v in record.items()})
    return Sample(list(headers), rows)


def sample_parquet(path: Path, limit: int = SAMPLE_ROWS) -> Sample:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    batch = next(file.iter_batches(batch_size=limit), None)
    headers = list(file.schema_arrow.names)
    rows = [{k: _text(v) for k, v in r.items()} for r in batch.to_pylist()] if batch is not None else []
    return Sample(headers, rows, total_rows=file.metadata.num_rows)


def sample_xlsx(path: Path, limit: int = SAMPLE_ROWS) -> tuple[Sample, int]:
    """The first sheet's sample and how many rows sit above its header."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        grid = []
        for values in book.worksheets[0].iter_rows(values_only=True):
            grid.append([_text(v) for v in values])
            if len(grid) >= limit + 20:
                break
    finally:
        book.close()
    lines = [",".join((c or "").replace(",", " ") for c in row).rstrip(",") for row in grid]
    skip = detect_header_row(lines, ",").value if lines else 0
    if not grid:
        return Sample([], []), 0
    headers = [(h or "").strip() for h in grid[skip]]
    rows = [
        {h: (r[i] if i < len(r) else None) for i, h in enumerate(headers) if h}
        for r in grid[skip + 1 :]
        if any(c not in (None, "") for c in r)
    ]
    return Sample([h for h in headers if h], rows[:limit]), skip
