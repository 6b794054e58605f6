"""The dry run of a proposal: the real ingestion, on a throwaway lake, of the user's files.

Nothing is written into the user's folder or lake. A temporary folder holds a landing zone
laid out as ``landing/<source>/`` with links to the delivered files (copies where a link
cannot be made) and a lake beside it; every source is ingested by the same functions
the platform runs (:mod:`orchestration.lib.ingest`), master data first; then the folder
is deleted. What remains is the outcome: per source and day, rows that would land and be
quarantined, the top reasons with an example each, and which marts the delivered sources
can build.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from orchestration.lib.ingest import (
    IngestResult,
    MasterDataMissing,
    ingest_days,
    ingest_snapshot,
    landing_index,
    quarantine_path,
)
from orchestration.lib.lake import LakeStore
from orchestration.lib.settings import SOURCES_ENV
from orchestration.lib.sources import Source, absent_sources, load_sources

SHOWN_DAYS = 10  # days with quarantined rows listed per source; the rest are counted
TOP_REASONS = 3
EXAMPLES = 5  # reasons shown with an example text, per source


@dataclass
class PartitionOutcome:
    """What one day (or master data's snapshot) of one source would become."""

    source: str
    day: date | None
    files: int
    accepted: int
    quarantined: int
    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason code -> one reason text

    @property
    def rows(self) -> int:
        return self.accepted + self.quarantined


@dataclass
class DryRunResult:
    partitions: list[PartitionOutcome]
    absent: list[str]
    marts_built: list[str] | None = None  # None: the dbt project's manifest was not at hand
    marts_skipped: dict[str, str] = field(default_factory=dict)
    marts_without: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # source -> what stopped it

    def by_source(self) -> dict[str, list[PartitionOutcome]]:
        grouped: dict[str, list[PartitionOutcome]] = {}
        for p in self.partitions:
            grouped.setdefault(p.source, []).append(p)
        return grouped

    def totals(self, source: str) -> tuple[int, int, int]:
        """(rows, accepted, quarantined) of one source over every partition."""
        parts = self.by_source().get(source, [])
        return sum(p.rows for p in parts), sum(p.accepted for p in parts), sum(p.quarantined for p in parts)


@contextmanager
def sources_file(path: Path) -> Iterator[None]:
    """``SUPPLYLOOP_SOURCES`` set to ``path`` for the duration (the ingestion reads it), then restored."""
    before = os.environ.get(SOURCES_ENV)
    os.environ[SOURCES_ENV] = str(Path(path).resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SOURCES_ENV, None)
        else:
            os.environ[SOURCES_ENV] = before


def lay_out_landing(
    files_by_source: dict[str, list[Path]],
    landing: Path,
    sources: dict[str, Source] | None = None,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Each delivered file where its source looks for it (``folder`` below ``landing``, by default
    ``<source>/``), under the name it was delivered with: a link to it, else a copy. Returns how many."""
    say = progress or (lambda _: None)
    total = sum(len(files) for files in files_by_source.values())
    done = 0
    for name, files in files_by_source.items():
        below = sources[name].landing_dir if sources and name in sources else f"landing/{name}"
        folder = Path(landing).joinpath(*below.split("/")[1:])
        folder.mkdir(parents=True, exist_ok=True)
        for path in files:
            target = folder / path.name
            if target.exists() or target.is_symlink():
                say(f"  ! {path} has the same name as another delivered file; only the first is used")
                continue
            try:
                target.symlink_to(Path(path).resolve())
            except OSError:
                shutil.copy2(path, target)
            done += 1
            if total > 200 and done % 500 == 0:
                say(f"  laid out {done}/{total} files")
    return done


def _ordered(sources: dict[str, Source]) -> list[Source]:
    """Master data before the facts, and each master entity after those it refers to."""
    ordered: list[Source] = []

    def visit(source: Source, seen: tuple[str, ...] = ()) -> None:
        if source in ordered or source.name in seen:
            return
        for entity in sorted(source.references):
            if entity in sources:
                visit(sources[entity], (*seen, source.name))
        ordered.append(source)

    for source in sorted(sources.values(), key=lambda s: (s.is_daily, s.name)):
        visit(source)
    return [s for s in ordered if not s.is_daily] + [s for s in ordered if s.is_daily]


def _outcome(store: LakeStore, source: Source, result: IngestResult) -> PartitionOutcome:
    outcome = PartitionOutcome(
        source.name, result.day, len(result.files), result.accepted, result.quarantined, Counter(result.reasons)
    )
    if result.quarantined and result.quarantine:
        day = result.day or _quarantine_day(store, source)
        if day is not None:
            table = store.read_table(quarantine_path(source, day), columns=["_reason_code", "_reason"])
            for code, text in zip(table.column("_reason_code").to_pylist(), table.column("_reason").to_pylist()):
                outcome.examples.setdefault(code, text)
    return outcome


def _quarantine_day(store: LakeStore, source: Source) -> date | None:
    found = store.list_files(source.quarantine_dir, "*.parquet", recursive=True)
    days = [f.path.rsplit("/", 2)[-2].removeprefix("day=") for f in found]
    return max((date.fromisoformat(d) for d in days), default=None)


def ingest_everything(
    store: LakeStore, sources: dict[str, Source], progress: Callable[[str], None] | None = None
) -> tuple[list[PartitionOutcome], dict[str, str]]:
    """Every source's deliveries through the real ingestion: master snapshots, then every day."""
    say = progress or (lambda _: None)
    outcomes: list[PartitionOutcome] = []
    errors: dict[str, str] = {}
    for source in _ordered(sources):
        try:
            if not source.is_daily:
                result = ingest_snapshot(store, source)
                outcomes.append(_outcome(store, source, result))
                say(f"  {source.name}: {result.rows_in:,} rows, {result.quarantined:,} quarantined")
                continue
            days = sorted(d for d in landing_index(store, source) if d is not None)
            if not days:
                say(f"  {source.name}: no file with a day")
                continue
            results = ingest_days(store, source, days)
            outcomes += [_outcome(store, source, r) for r in results]
            rows = sum(r.rows_in for r in results)
            quarantined = sum(r.quarantined for r in results)
            say(f"  {source.name}: {len(days)} day(s), {rows:,} rows, {quarantined:,} quarantined")
        except (MasterDataMissing, Exception) as err:  # noqa: BLE001 - one source's failure is a finding
            errors[source.name] = f"{type(err).__name__}: {err}"
            say(f"  {source.name}: FAILED {err}")
    return outcomes, errors


def dry_run(
    proposal_file: Path,
    files_by_source: dict[str, list[Path]],
    manifest: Path | None = None,
    progress: Callable[[str], None] | None = None,
    keep: Path | None = None,
) -> DryRunResult:
    """Ingest the delivered files as ``proposal_file`` says, on a temporary lake, and report.

    ``files_by_source``: the files each proposed source takes (their names are kept).
    ``manifest``: the dbt project's manifest, to tell which marts the delivered sources
    build (left out when None and none has been parsed). ``keep``: a folder to use instead
    of a temporary one, left in place (for tests).
    """
    say = progress or (lambda _: None)
    with sources_file(proposal_file):
        sources = load_sources(Path(proposal_file))
        unknown = set(files_by_source) - set(sources)
        if unknown:
            raise ValueError(f"{proposal_file} does not declare {sorted(unknown)}; propose again or add them")
        with _workspace(keep) as work:
            say(f"dry run in a temporary lake ({sum(len(f) for f in files_by_source.values())} files)")
            lay_out_landing(files_by_source, work / "landing", sources, progress)
            delivered = {str(Path(p).resolve().parent) for files in files_by_source.values() for p in files}
            store = LakeStore(str(work / "lake"), landing=str(work / "landing"), links_into=tuple(delivered))
            outcomes, errors = ingest_everything(store, sources, progress)
        result = DryRunResult(outcomes, absent_sources(Path(proposal_file)), errors=errors)
        _marts(result, manifest)
    return result


@contextmanager
def _workspace(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix="supplyloop-onboard-") as tmp:
        yield Path(tmp)


def _marts(result: DryRunResult, manifest: Path | None) -> None:
    """Which marts the delivered sources build, from the partial-sources plan, when a manifest is at hand."""
    try:
        from orchestration.lib import coverage
    except ImportError:
        return
    path = Path(manifest) if manifest else coverage.MANIFEST
    if not path.exists():
        return
    plan = coverage.plan_coverage(coverage.read_project(path), result.absent)
    result.marts_built = plan.built_marts
    result.marts_skipped = plan.skipped_marts
    result.marts_without = [plan.without(m) for m in plan.built_marts if plan.affected.get(m)]


def format_dry_run(result: DryRunResult) -> str:
    """The dry run as a person reads it: per source, then the days with quarantined rows, then the marts."""
    out = [f"\n{'source':<20}{'day':<12}{'files':>6}{'rows':>10}{'accepted':>10}{'quarantined':>13}  top reasons"]
    for source, parts in result.by_source().items():
        rows, accepted, quarantined = result.totals(source)
        reasons = Counter()
        for p in parts:
            reasons.update(p.reasons)
        days = [p for p in parts if p.day]
        span = f"{len(days)} days" if days else "snapshot"
        top = ", ".join(f"{code} {n:,}" for code, n in reasons.most_common(TOP_REASONS))
        files = sum(p.files for p in parts if not p.day) + sum(p.files for p in days)
        out.append(f"{source:<20}{span:<12}{files:>6}{rows:>10,}{accepted:>10,}{quarantined:>13,}  {top}")
        bad_days = [p for p in days if p.quarantined]
        for p in bad_days[:SHOWN_DAYS]:
            top = ", ".join(f"{code} {n:,}" for code, n in p.reasons.most_common(TOP_REASONS))
            out.append(
                f"{'':<20}{p.day.isoformat():<12}{p.files:>6}{p.rows:>10,}{p.accepted:>10,}{p.quarantined:>13,}  {top}"
            )
        if len(bad_days) > SHOWN_DAYS:
            out.append(f"{'':<20}... and {len(bad_days) - SHOWN_DAYS} more days with quarantined rows")
        examples = {}
        for p in parts:
            for code, text in p.examples.items():
                examples.setdefault(code, text)
        for code, _ in reasons.most_common(EXAMPLES):
            if code in examples:
                out.append(f"{'':<20}e.g. {examples[code]}")
    for source, error in result.errors.items():
        out.append(f"{source:<20}FAILED: {error}")
    out.append("")
    out.append("absent sources: " + (", ".join(result.absent) or "none"))
    if result.marts_built is None:
        out.append("marts: parse the dbt project (`make run` does) to see which marts these sources build")
    else:
        out.append(f"marts built: {', '.join(result.marts_built) or 'none'}")
        for reason in result.marts_skipped.values():
            out.append(f"  skipped: {reason}")
        for line in result.marts_without:
            out.append(f"  {line}")
    return "\n".join(out)
