"""Run a quality gate: a Great Expectations suite on a pandas batch, its result kept in the lake.

A gate validates one *partition* (a supplier's feed, a window of order lines) against a
suite built in code. Each expectation carries a GX ``severity``: ``critical`` failures are
errors and block, ``warning`` (or ``info``) failures are warnings and only report. The
result is stored as JSON at ``<lake>/gates/<suite>/<partition>/<result_id>.json``, with the
*subject* the caller vouches for (e.g. the checksums of the files that were validated), so
a later step can check for itself what passed. GX Data Docs (HTML) are built under
``<lake>/gates/docs/`` (for an S3 lake: in a temporary folder, then uploaded there).

GX runs in an ephemeral context made for each gate (in-memory stores, no analytics, no
progress bars), through its public API only. It is imported on first use: it takes seconds.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from orchestration.lib.lake import LakeStore

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd

GATES_DIR = "gates"
DOCS_DIR = f"{GATES_DIR}/docs"
DOCS_INDEX = f"{DOCS_DIR}/index.html"
INDEX_PARTITIONS = 31  # per gate, the partitions with the newest results that Data Docs' index shows
DOCS_SITE = "gates"
ERROR, WARN = "error", "warn"
# GX severities -> what they do here: errors block, warnings report
SEVERITIES = {"critical": ERROR, "warning": WARN, "info": WARN}
SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
EXAMPLES = 5


class GateError(ValueError):
    """A gate was asked to store or read something it cannot name safely."""


def _segment(what: str, value: str) -> str:
    if not SEGMENT.fullmatch(value or "") or ".." in value:
        raise GateError(
            f"{what} {value[:80]!r} cannot name a folder under {GATES_DIR}/: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return value


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold: which, on what column, how badly, how serious."""

    expectation: str
    column: str | None
    unexpected_count: int | None
    severity: str
    gate: str
    observed: Any = None
    examples: tuple = ()
    advice: str | None = None  # what it means and what to do, from the expectation's ``meta``

    def describe(self) -> str:
        target = f"{self.expectation}({self.column})" if self.column else self.expectation
        if self.advice:
            return f"{self.gate}: {self.advice} [{target}, {self.severity}]"
        if self.unexpected_count is not None:
            what = f"{self.unexpected_count} unexpected row(s)"
            if self.examples:
                what += ", e.g. " + ", ".join(repr(v) for v in self.examples[:3])
        else:
            what = f"observed {self.observed!r}"
        return f"{self.gate}: {target}: {what} [{self.severity}]"


@dataclass(frozen=True)
class GateResult:
    """What a gate decided, in plain Python: safe to log, store, and compare."""

    suite: str
    partition: str
    result_id: str
    success: bool
    evaluated: int
    failed: tuple[FailedExpectation, ...]
    path: str
    uri: str
    docs: str | None = None
    subject: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[FailedExpectation]:
        return [f for f in self.failed if f.severity == ERROR]

    @property
    def warnings(self) -> list[FailedExpectation]:
        return [f for f in self.failed if f.severity == WARN]

    @property
    def outcome(self) -> str:
        if not self.success:
            return "failed"
        return "passed with warnings" if self.warnings else "passed"

    def summary(self) -> str:
        head = f"gate {self.suite} for {self.partition} {self.outcome}"
        if not self.failed:
            return f"{head} ({self.evaluated} expectations)"
        counts = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s) of {self.evaluated} expectations"
        return f"{head}: {counts}: " + "; ".join(f.describe() for f in self.failed)

    def record(self, gx_result: dict | None = None) -> dict:
        data = asdict(self)
        data["failed"] = [asdict(f) for f in self.failed]
        data["outcome"] = self.outcome
        data["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        if gx_result is not None:
            data["gx"] = gx_result
        return data

    @classmethod
    def from_record(cls, record: dict) -> GateResult:
        failed = tuple(
            FailedExpectation(**{**f, "examples": tuple(f.get("examples") or ())}) for f in record.get("failed", [])
        )
        return cls(
            suite=record["suite"],
            partition=record["partition"],
            result_id=record["result_id"],
            success=bool(record["success"]),
            evaluated=int(record.get("evaluated", 0)),
            failed=failed,
            path=record["path"],
            uri=record["uri"],
            docs=record.get("docs"),
            subject=record.get("subject") or {},
        )


def error(gate: str, advice: str | None = None) -> dict:
    """Keyword arguments for an expectation of ``gate`` whose failure blocks (GX severity critical).

    ``advice``, when given, is what a failure shows instead of GX's observed value: what is
    wrong in the data and what to do about it.
    """
    return {"meta": _meta(gate, advice), "severity": "critical"}


def warning(gate: str, advice: str | None = None) -> dict:
    """Keyword arguments for an expectation of ``gate`` whose failure only reports (GX severity warning)."""
    return {"meta": _meta(gate, advice), "severity": "warning"}


def _meta(gate: str, advice: str | None) -> dict:
    return {"gate": gate, "advice": advice} if advice else {"gate": gate}


def result_path(suite: str, partition: str, result_id: str) -> str:
    return f"{GATES_DIR}/{_segment('suite', suite)}/{_segment('partition', partition)}/{result_id}.json"


def new_result_id() -> str:
    """Sortable by time (to the microsecond), unique by a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"


def store_result(
    store: LakeStore,
    suite: str,
    partition: str,
    failed: list[FailedExpectation],
    evaluated: int,
    subject: dict | None = None,
    docs: str | None = None,
    gx_result: dict | None = None,
    result_id: str | None = None,
) -> GateResult:
    """Keep a gate's decision as JSON in the lake; success means no error-severity failure."""
    result_id = result_id or new_result_id()
    path = result_path(suite, partition, result_id)
    result = GateResult(
        suite=suite,
        partition=partition,
        result_id=result_id,
        success=not any(f.severity == ERROR for f in failed),
        evaluated=evaluated,
        failed=tuple(failed),
        path=path,
        uri=store.uri(path),
        docs=docs,
        subject=subject or {},
    )
    body = json.dumps(result.record(gx_result), indent=2, ensure_ascii=False, default=str)
    store.write_bytes(path, body.encode("utf-8"))
    return result


def load_result(store: LakeStore, path: str) -> GateResult:
    return GateResult.from_record(json.loads(store.read_bytes(path)))


def latest_result(store: LakeStore, suite: str, partition: str) -> GateResult | None:
    """The newest stored result of a gate for one partition, if it ever ran."""
    files = store.list_files(f"{GATES_DIR}/{_segment('suite', suite)}/{_segment('partition', partition)}", "*.json")
    return load_result(store, files[-1].path) if files else None


def run_gate(
    store: LakeStore,
    suite: gx.ExpectationSuite,
    frame: pd.DataFrame,
    partition: str,
    subject: dict | None = None,
    docs: bool = True,
) -> GateResult:
    """Validate ``frame`` against ``suite``; store the result (and Data Docs); return the decision."""
    _segment("partition", partition)
    result_id = new_result_id()
    if not docs:
        validation, _ = _validate(suite, frame, partition, result_id, None)
        page = None
    elif store.is_s3:
        with tempfile.TemporaryDirectory(prefix="gate-docs-") as folder:
            validation, rel = _validate(suite, frame, partition, result_id, folder)
            _upload_docs(store, Path(folder))
            page = store.uri(f"{DOCS_DIR}/{rel}") if rel else None
    else:
        folder = store.fs_path(DOCS_DIR)
        Path(folder).mkdir(parents=True, exist_ok=True)
        validation, rel = _validate(suite, frame, partition, result_id, folder)
        page = store.uri(f"{DOCS_DIR}/{rel}") if rel else None
    result = store_result(
        store,
        suite.name,
        partition,
        failed=_failures(validation),
        evaluated=int(validation.statistics.get("evaluated_expectations", len(validation.results))),
        subject=subject,
        docs=page,
        gx_result=validation.to_json_dict(),
        result_id=result_id,
    )
    if docs:
        write_docs_index(store)
    return result


@dataclass(frozen=True)
class KeyedGateResult:
    """One validation of many owners' rows at once (e.g. every partner's feed), and what it means
    for each owner: ``held`` maps an owner's key to the errors it failed, each with its failing
    rows; ``blocking`` are errors no row can be blamed for (a schema, a table), which hold all."""

    result: GateResult
    keys: tuple[str, ...]
    held: dict[str, list[dict]]
    warned: dict[str, list[dict]]
    blocking: tuple[FailedExpectation, ...] = ()

    def outcome(self, key: str) -> dict:
        """The owner's own outcome: passed, passed with warnings, or held and why."""
        failed = [
            *({"gate": f.gate, "expectation": f.expectation, "column": f.column, "rows": []} for f in self.blocking)
        ]
        failed += self.held.get(key, [])
        status = "held" if failed else ("passed with warnings" if self.warned.get(key) else "passed")
        return {"outcome": status, "failed": failed, "warnings": self.warned.get(key, [])}

    def passed(self, key: str) -> bool:
        return not self.blocking and key not in self.held


def run_keyed_gate(
    store: LakeStore,
    name: str,
    batches: dict[str, tuple[gx.ExpectationSuite, pd.DataFrame]],
    key: str,
    partition: str,
    subject: dict | None = None,
    docs: bool = True,
    rows_per_failure: int = 20,
) -> KeyedGateResult:
    """Validate each batch (a section of many owners' rows, a ``key`` column naming the owner)
    once, with GX's COMPLETE result format indexed by ``key``, so that a row-level failure names
    the owners it belongs to; store one result for the run and return each owner's outcome.

    Per-owner table checks (row counts, freshness) are row-level columns the caller computes
    per owner before validation. ``rows_per_failure`` bounds the failing rows kept per owner
    and expectation.
    """
    _segment("partition", partition)
    result_id = new_result_id()
    result_format = {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": [key],
        "return_unexpected_index_query": False,  # a pandas filter listing every failing row: the rows are kept already
    }
    keys = sorted({k for _, frame in batches.values() for k in frame[key].dropna().astype(str)})
    failed: list[FailedExpectation] = []
    held: dict[str, list[dict]] = {}
    warned: dict[str, list[dict]] = {}
    blocking: list[FailedExpectation] = []
    raw, pages, evaluated = {}, {}, 0
    with tempfile.TemporaryDirectory(prefix="gate-docs-") as scratch:
        folder = None
        if docs:
            folder = scratch if store.is_s3 else store.fs_path(DOCS_DIR)
            Path(folder).mkdir(parents=True, exist_ok=True)
        for section, (suite, frame) in batches.items():
            validation, rel = _validate(suite, frame, f"{partition}-{section}", result_id, folder, result_format)
            if rel:
                pages[section] = store.uri(f"{DOCS_DIR}/{rel}")
            raw[section] = validation.to_json_dict()
            evaluated += int(validation.statistics.get("evaluated_expectations", len(validation.results)))
            for outcome, failure in _failures_with_results(validation):
                failure = FailedExpectation(**{**asdict(failure), "gate": f"{section}: {failure.gate}"})
                failed.append(failure)
                index = (outcome.result or {}).get("unexpected_index_list")
                if index is None:
                    if failure.severity == ERROR:
                        blocking.append(failure)
                    continue
                target = held if failure.severity == ERROR else warned
                for owner, rows in _rows_by_key(index, key).items():
                    entry = {"gate": failure.gate, "expectation": failure.expectation, "column": failure.column}
                    target.setdefault(owner, []).append({**entry, "rows": _plain(rows[:rows_per_failure])})
        if docs and store.is_s3:
            _upload_docs(store, Path(scratch))
    record_subject = {**(subject or {}), "sections": sorted(batches), "owners": len(keys), "docs_pages": pages}
    record_subject["outcomes"] = {
        k: {"outcome": "held" if (blocking or k in held) else "passed", "failed": len(held.get(k, []))} for k in keys
    }
    result = store_result(
        store,
        name,
        partition,
        failed=failed,
        evaluated=evaluated,
        subject=record_subject,
        docs=next(iter(pages.values()), None),
        gx_result=raw,
        result_id=result_id,
    )
    if docs:
        write_docs_index(store)
    return KeyedGateResult(result, tuple(keys), held, warned, tuple(blocking))


def _rows_by_key(index: list[dict], key: str) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in index:
        rows.setdefault(str(row.get(key)), []).append(row)
    return rows


def docs_index_uri(store: LakeStore) -> str:
    return store.uri(DOCS_INDEX)


def write_docs_index(store: LakeStore) -> str:
    """Data Docs' front page (``gates/docs/index.html``): per gate, the latest result of each of its
    :data:`INDEX_PARTITIONS` newest partitions, linking its page (listings, and a read of those
    results only). Returns where it is.

    Runs at once (ingestion fans out by source and day, each order-lines day with its gate)
    take turns under a lake lock, each listing the results after the one before it wrote its
    page: otherwise the later write could leave out the other's newest result."""
    from orchestration.lib.locks import lake_lock

    with lake_lock(store, "gates-docs-index", "the gates' Data Docs index", wait=600, say=lambda _line: None):
        return _write_docs_index(store)


def _write_docs_index(store: LakeStore) -> str:
    from concurrent.futures import ThreadPoolExecutor

    from expectations import data_docs

    results: dict[tuple[str, str], list[str]] = {}
    for f in store.list_files(GATES_DIR, "*.json", recursive=True):
        parts = f.path.split("/")
        if len(parts) == 4 and parts[1] != DOCS_DIR.split("/")[-1]:  # gates/<suite>/<partition>/<id>.json
            results.setdefault((parts[1], parts[2]), []).append(f.path)
    newest = {key: max(paths) for key, paths in results.items()}
    shown = []
    for suite in {suite for suite, _ in newest}:
        mine = sorted((p for (s, _), p in newest.items() if s == suite), key=lambda p: p.rsplit("/", 1)[-1])
        shown += mine[-INDEX_PARTITIONS:]
    with ThreadPoolExecutor(max_workers=8) as pool:
        latest = list(pool.map(lambda path: json.loads(store.read_bytes(path)), shown))
    site = store.uri(DOCS_DIR) + "/"
    for record in latest:
        record.pop("gx", None)
        docs = record.get("docs") or ""
        record["page"] = docs[len(site) :] if docs.startswith(site) else None
    earlier = {key: len(paths) - 1 for key, paths in results.items()}
    store.write_bytes(DOCS_INDEX, data_docs.index_page(latest, earlier).encode("utf-8"))
    return docs_index_uri(store)


def _context(docs_dir: str | None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir:
        page = {"module_name": "expectations.data_docs", "class_name": "PageView"}
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
            # keeps every earlier gate's page, which GX's own index builder would delete
            "site_index_builder": {"module_name": "expectations.data_docs", "class_name": "PagesOnly"},
            # the suite and validation pages; no profiling section (gates profile nothing)
            "site_section_builders": {
                "expectations": {"view": page},
                "validations": {"view": page},
                "profiling": "None",
            },
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),  # no temporary docs site of its own
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _validate(suite, frame, partition: str, result_id: str, docs_dir: str | None, result_format: dict | None = None):
    """Run the suite's validation definition; returns the GX validation result and the docs page.

    The definition runs on its own and the result's page is built with ``build_data_docs``
    rather than through a checkpoint with an ``UpdateDataDocsAction``: same result, same
    page, a quarter less time per gate (a checkpoint re-checks that every object it holds is
    saved and unchanged in the context's stores, which an ephemeral context made for this one
    gate does not need).
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(docs_dir)
    batch = context.data_sources.add_pandas("gates").add_dataframe_asset(suite.name)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=f"{suite.name}-{partition}",
            data=batch.add_batch_definition_whole_dataframe("rows"),
            suite=context.suites.add(suite),
        )
    )
    validation = definition.run(
        batch_parameters={"dataframe": frame},
        # BASIC keeps counts and examples; SUMMARY adds value counts that cost about a fifth more per gate
        result_format=result_format or {"result_format": "BASIC", "partial_unexpected_count": EXAMPLES},
        run_id=RunIdentifier(run_name=f"{partition}-{result_id}"),
    )
    if not docs_dir:
        return validation, None
    (identifier,) = context.validation_results_store.list_keys()  # this gate's result, the only one
    context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=[identifier])
    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
    page = next((u["site_url"] for u in urls if u.get("site_url")), None)
    if page is None:
        return validation, None
    local = Path(unquote(urlparse(page).path))
    from expectations import data_docs

    data_docs.make_offline(docs_dir, [local])
    return validation, local.relative_to(Path(docs_dir).resolve()).as_posix()


def _failures(validation) -> list[FailedExpectation]:
    return [failure for _, failure in _failures_with_results(validation)]


def _failures_with_results(validation) -> list[tuple[Any, FailedExpectation]]:
    failed = []
    for outcome in validation.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        severity = getattr(config.severity, "value", config.severity) or "critical"
        result = outcome.result or {}
        exception = outcome.exception_info or {}
        observed = result.get("observed_value")
        if exception.get("raised_exception"):
            observed = exception.get("exception_message")
        failed.append(
            (
                outcome,
                FailedExpectation(
                    expectation=config.type,
                    column=config.kwargs.get("column") or _columns(config.kwargs),
                    unexpected_count=result.get("unexpected_count"),
                    severity=SEVERITIES.get(str(severity), ERROR),
                    gate=(config.meta or {}).get("gate", config.type),
                    advice=(config.meta or {}).get("advice"),
                    observed=_plain(observed),
                    examples=tuple(_plain(v) for v in (result.get("partial_unexpected_list") or [])[:EXAMPLES]),
                ),
            )
        )
    return failed


def _columns(kwargs: dict) -> str | None:
    if "column_list" in kwargs:
        return ", ".join(kwargs["column_list"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return None


def _plain(value: Any) -> Any:
    """JSON-friendly values for the stored record (dates as ISO text, numpy scalars as Python)."""
    return json.loads(json.dumps(value, default=str))


def _upload_docs(store: LakeStore, folder: Path) -> None:
    """Copy a built Data Docs site into the lake; the static assets only once."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        target = f"{DOCS_DIR}/{rel}"
        if rel.startswith("static/") and store.exists(target):
            continue
        store.write_bytes(target, path.read_bytes())
