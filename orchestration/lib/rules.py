"""Row rules: type every value and say why a row cannot be accepted, in one DuckDB query.

The query is built from the source's declaration in sources.yaml. Identifiers are quoted,
and every value the rules compare against (minimums, accepted values, the business day,
the time zone) is a bound parameter, never text pasted into SQL.

Reason codes (the first word of ``_reason``) are a public contract: quarantine readers,
tests and the demo generator's ground truth all use them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

from orchestration.lib.sources import Column, Source

REASON_CODES = {
    # row level
    "missing_required": "a required value is empty",
    "invalid_value": "a value does not parse as its declared type",
    "below_minimum": "a quantity is below its allowed minimum",
    "not_accepted": "a value is not among the accepted values",
    "unknown_reference": "a key is not in the master data it refers to",
    "wrong_day": "the event falls on another day than the file it came in",
    "duplicate_key": "the natural key was already delivered (first delivery kept)",
    "duplicate_file": "the file is byte-identical to another delivery of the same day",
    "malformed_row": "the row could not be split into the expected fields",
    # file level
    "empty_file": "the file has no bytes",
    "undecodable": "the file is not in its declared text encoding",
    "unreadable_file": "the file is not a readable file of its declared format",
    "missing_column": "a required column is absent under every known header",
    "outside_landing": "the file is a link that leads outside the landing zone (or to nothing); it is not read",
}

REASON_SEPARATOR = " | "  # between the reasons of a row that breaks several rules
TIMESTAMP_FORMATS = ["%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d%H%M%S", "%Y%m%d"]
DATE_FORMATS = ["%Y/%m/%d", "%Y%m%d", "%d/%m/%Y"]
TYPE_WORDS = {
    "int64": "a whole number",
    "float64": "a number",
    "decimal": "a decimal number",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "a date and time (YYYY-MM-DD HH:MM:SS)",
}
TYPE_ADVICE = {  # after "correct the value in the export"
    "int64": " (digits only, no decimals or thousands separators)",
    "float64": " (a point for decimals, no thousands separators)",
    "decimal": " (a point for decimals, no thousands separators or currency signs)",
    "date": " (as 2026-11-11, 2026/11/11 or 20261111)",
    "timestamp": " (as 2026-11-11 20:00:00, 2026/11/11 20:00 or ISO with an offset)",
}


def ident(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def raw_name(column: str) -> str:
    return f"raw__{column}"


@dataclass
class _Params:
    values: dict

    def bind(self, value) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _typed(col: Column, v: str, params: _Params) -> str:
    """The SQL that turns the text ``v`` into the column's type, NULL when it does not parse."""
    if col.type == "string":
        return v
    if col.type == "int64":
        # TRY_CAST rounds '1.5' to 2; a whole number must survive the trip through DOUBLE
        return f"CASE WHEN TRY_CAST({v} AS DOUBLE) = TRY_CAST({v} AS BIGINT) THEN TRY_CAST({v} AS BIGINT) END"
    if col.type == "float64":
        return f"TRY_CAST({v} AS DOUBLE)"
    if col.type == "decimal":
        return f"TRY_CAST({v} AS DECIMAL(18, 2))"
    if col.type == "date":
        formats = params.bind(DATE_FORMATS)
        return (
            f"COALESCE(TRY_CAST({v} AS DATE), CAST(TRY_STRPTIME({v}, {formats}) AS DATE), "
            f"CAST(TRY_CAST({v} AS TIMESTAMP) AS DATE))"
        )
    if col.type == "timestamp":
        # naive text is local time in the session's TimeZone (the source's), offsets are honoured
        formats = params.bind(TIMESTAMP_FORMATS)
        return f"COALESCE(TRY_CAST({v} AS TIMESTAMPTZ), CAST(TRY_STRPTIME({v}, {formats}) AS TIMESTAMPTZ))"
    raise ValueError(f"no typing rule for {col.type}")


SHOWN_CHARS = 80  # a delivered value quoted in a reason is cut to this many characters


def shown(v: str) -> str:
    """SQL for a delivered value as a reason quotes it: cut to ``SHOWN_CHARS`` with "..." when longer."""
    return f"CASE WHEN length({v}) > {SHOWN_CHARS} THEN left({v}, {SHOWN_CHARS - 3}) || '...' ELSE {v} END"


def _is_canonical(source: Source) -> bool:
    """Whether the source's rules are the canonical ones the marts rely on (fixed for a platform)."""
    from orchestration.lib.sources import canonical_sources

    return source.name in canonical_sources()


def _checks(source: Source, col: Column, v: str, t: str, params: _Params, day: date | None) -> list[tuple[str, str]]:
    """The rules of one column: (condition that breaks it, SQL of the reason text).

    Every text reads ``<code>: <what is wrong>; <what to do>``; its fixed parts are bound.
    """
    name, text = col.name, params.bind
    where = f"{source.name}.{name}"
    quoted = f"'''' || {shown(v)} || ''''"  # the value as delivered, in quotes
    checks = []
    if col.required:
        checks.append(
            (
                f"{v} IS NULL",
                text(
                    f"missing_required: {name} is empty; fill in the row's {name} in the export "
                    "and deliver the file again (the column is required)"
                ),
            )
        )
    if col.type != "string":
        checks.append(
            (
                f"{v} IS NOT NULL AND {t} IS NULL",
                f"{text(f'invalid_value: {name} ')} || {quoted} || "
                + text(
                    f" is not {TYPE_WORDS[col.type]}; correct the value in the export{TYPE_ADVICE.get(col.type, '')}"
                ),
            )
        )
    if col.min is not None:
        checks.append(
            (
                f"{t} < {text(col.min)}",
                f"{text(f'below_minimum: {name} ')} || {shown(v)} || "
                + text(
                    f" is below {col.min:g}; correct the value in the export and deliver the file again"
                    + (
                        ""
                        if _is_canonical(source)
                        else f", or lower `min` of {where} in the sources file if such values are valid"
                    )
                ),
            )
        )
    if col.accepted:
        checks.append(
            (
                f"{t} IS NOT NULL AND NOT list_contains({text(list(col.accepted))}, {t})",
                f"{text(f'not_accepted: {name} ')} || {quoted} || "
                + text(
                    f" is not one of {', '.join(col.accepted)}; correct the value in the export"
                    + (
                        " (the marts know these values only)"
                        if _is_canonical(source)
                        else f", or add it to `accepted` of {where} in the sources file if it is a valid value"
                    )
                ),
            )
        )
    if col.references:
        entity, key = col.references
        checks.append(
            (
                f"{t} IS NOT NULL AND {t} NOT IN (SELECT k FROM {ident(ref_table(entity, key))})",
                f"{text(f'unknown_reference: {name} ')} || {quoted} || "
                + text(f" is not in {entity}; add it to the {entity} master data or correct the row"),
            )
        )
    if day is not None and name == source.event_time:
        checks.append(
            (
                f"{t} IS NOT NULL AND CAST({t} AS DATE) <> {text(day)}",
                f"{text(f'wrong_day: {name} ')} || {shown(v)} || ' falls on ' || CAST(CAST({t} AS DATE) AS VARCHAR) "
                "|| "
                + text(
                    f", not on the file's day {day.isoformat()}; deliver the row in the file of its own day, "
                    f"or check the `timezone` of {source.name} (now {source.timezone}) in the sources file"
                ),
            )
        )
    return checks


def _reasons(checks: list[tuple[str, str]]) -> str:
    """Every broken rule's text, joined by ``REASON_SEPARATOR``; NULL for a good row.

    Most rows break nothing: one test of all conditions lets them skip building text.
    """
    if not checks:
        return "NULL"
    broken = " OR ".join(f"COALESCE({cond}, false)" for cond, _ in checks)
    texts = ", ".join(f"CASE WHEN {cond} THEN {text} END" for cond, text in checks)
    return f"CASE WHEN {broken} THEN concat_ws('{REASON_SEPARATOR}', {texts}) END"


def ref_table(entity: str, column: str) -> str:
    return f"ref__{entity}__{column}"


def _text(col: Column) -> str:
    """A delivered value as text, NULL when empty; names and codes lose stray spaces."""
    if col.type == "string":
        return f"NULLIF(TRIM({ident(col.name)}), '')"
    return f"NULLIF({ident(col.name)}, '')"  # the casts ignore surrounding spaces themselves


def build_query(source: Source, day: date | None, dedupe: bool = True) -> tuple[str, dict]:
    """The query over the table ``raw`` that types each row and gives its reason, if any.

    ``raw`` holds the source's columns as text plus ``_source_file``, ``_source_row``,
    ``_file_order`` and ``_file_reason`` (set when the whole file's rows are refused).
    The result has the typed columns and ``_reason`` (NULL when accepted), one row for
    each row of ``raw`` in the same order, so callers take lineage and the original text
    of rejected rows from ``raw`` itself.

    ``dedupe=False`` leaves out the search for repeated keys, for input already known to
    have none (see :func:`has_repeated_keys`); the rows then keep their order by
    themselves, and the query streams without sorting.
    """
    params = _Params({})
    texts, typed, checks = [], [], []
    for col in source.columns:
        v = ident(raw_name(col.name))
        texts.append(f"{_text(col)} AS {v}")
        typed.append(f"{_typed(col, v, params)} AS {ident(col.name)}")
        checks += _checks(source, col, v, ident(col.name), params, day)
    keys = ", ".join(ident(k) for k in source.key)
    key_text = " || ', ' || ".join(
        f"'{k}=' || COALESCE({shown(f'CAST({ident(k)} AS VARCHAR)')}, '')" for k in source.key
    )
    lineage = "_source_file, _source_row, _file_order"
    window = f"PARTITION BY (_rules IS NULL), {keys} ORDER BY _file_order, _source_row"
    out_typed = ", ".join(ident(c.name) for c in source.columns)
    if dedupe:
        reason = f"""CASE WHEN _rules IS NOT NULL THEN _rules
             WHEN row_number() OVER ({window}) > 1 THEN
                'duplicate_key: ' || {key_text} || ' was already delivered in row '
                || CAST(first_value(_source_row) OVER ({window}) AS VARCHAR) || ' of '
                || first_value(_source_file) OVER ({window}) || ', which is kept; remove the repeated row '
                || 'from the export, or, if it corrects the first, deliver the corrected row in place of it'
        END"""
        order = "ORDER BY _file_order, _source_row"
    else:
        reason, order = "_rules", ""
    sql = f"""
WITH texts AS (
    SELECT {", ".join(texts)}, {lineage}, _file_reason FROM raw
), typed AS (
    SELECT *, {", ".join(typed)} FROM texts
), ruled AS (
    SELECT *, COALESCE(_file_reason, {_reasons(checks)}) AS _rules FROM typed
), reasoned AS (
    SELECT *, {reason} AS _reason FROM ruled
)
SELECT {out_typed}, _reason
FROM reasoned
{order}
"""
    return sql, params.values


def has_repeated_keys(con: duckdb.DuckDBPyConnection, source: Source) -> bool:
    """Whether any natural key occurs twice in ``raw`` (typed as the rules type it).

    Counting keys over every row is far cheaper than ranking them, and a day's delivery
    almost never repeats one; only then does the full query rank rows by key.
    """
    params = _Params({})
    keys = ", ".join(_typed(source.column(k), _text(source.column(k)), params) for k in source.key)
    sql = f"SELECT 1 FROM raw GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
    return con.execute(sql, params.values).fetchone() is not None


def connect(source: Source, threads: int = 1) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session set to read the source's local times. What it spills goes
    to the machine's temporary folder (``$TMPDIR``), not to ``.tmp`` in the working folder,
    which is read-only in the image."""
    spill = os.path.join(tempfile.gettempdir(), "supplyloop-duckdb")
    con = duckdb.connect(config={"threads": threads, "temp_directory": spill})
    con.execute("SET TimeZone = $tz", {"tz": source.timezone})
    return con


def apply_rules(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    raw: pa.Table,
    references: dict[tuple[str, str], pa.Array],
    day: date | None,
    batch_rows: int = 256 * 1024,
) -> pa.RecordBatchReader:
    """Run the rules over ``raw``; a stream of batches with typed columns and ``_reason``."""
    con.register("raw", raw)
    for (entity, column), keys in references.items():
        con.register(ref_table(entity, column), pa.table({"k": keys}))
    sql, params = build_query(source, day, dedupe=has_repeated_keys(con, source))
    return con.execute(sql, params).to_arrow_reader(batch_rows)


def event_days(source: Source, raw: pa.Table) -> pa.Array:
    """The business day of each row of ``raw`` (canonical text columns), by the source's
    event time in its time zone, typed as the rules type it; null where it does not parse."""
    col = source.column(source.event_time)
    params = _Params({})
    sql = f"SELECT CAST({_typed(col, _text(col), params)} AS DATE) AS day FROM raw"
    con = connect(source)
    try:
        con.register("raw", raw.select([col.name]))
        return con.execute(sql, params.values).to_arrow_table().column("day").combine_chunks()
    finally:
        con.close()
