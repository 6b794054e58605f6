"""Partial sources: which marts a platform's deliveries can build, and what the others lack.

A platform may deliver any subset of the canonical sources. A source is *absent* when the
effective configuration does not declare it or when it has never delivered a file (no
bronze Parquet). Absent is not an error: the staging view of an absent source is an empty
relation with the source's columns (transforms/macros/partial_sources.sql), so every model
that merely uses it still builds, with zeros or nulls in the columns it empties; a model
that cannot mean anything without it is skipped, with the reason.

Each dbt model declares this in its YAML ``meta``:

- ``needs: [stock_snapshots]``: skipped when a source it needs is absent;
- ``affected_by: {live_sessions: [live_conversion]}``: built without the source, those
  columns then zero or null. It also lets the model be built when an upstream model is
  skipped for that source (the model reads it with ``ref_unless_skipped``).

A model is skipped when a source it needs is absent, or when an upstream model is skipped
for a source the model does not declare in ``affected_by``. The skipped models, and the
data tests that read a skipped model or an absent source's staging view, are excluded from
``dbt build``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import TRANSFORMS_DIR
from orchestration.lib.sources import Source, canonical_sources, load_sources

MANIFEST = TRANSFORMS_DIR / "target" / "manifest.json"
MARTS_SCHEMA = "marts"
FEED_MART = "supplier_replenishment"


@dataclass(frozen=True)
class ModelNeeds:
    """What one dbt model reads and declares about absent sources."""

    name: str
    schema: str
    models: tuple[str, ...]  # the models it reads
    sources: tuple[str, ...]  # the bronze sources it reads itself (a staging view's one)
    needs: tuple[str, ...] = ()
    affected_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_mart(self) -> bool:
        return self.schema == MARTS_SCHEMA


@dataclass(frozen=True)
class DataTest:
    name: str
    models: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Project:
    """The dbt project's models and data tests, as the manifest has them."""

    models: dict[str, ModelNeeds]
    tests: list[DataTest]


def _node_name(unique_id: str) -> str:
    return unique_id.rsplit(".", 1)[-1]


def read_project(manifest: Mapping | Path | None = None) -> Project:
    """The models and data tests of a dbt manifest (a dict, or the path of manifest.json)."""
    if not isinstance(manifest, Mapping):
        manifest = json.loads(Path(manifest or MANIFEST).read_text())
    models, tests = {}, []
    for node in manifest["nodes"].values():
        depends = node.get("depends_on", {}).get("nodes", [])
        upstream = tuple(_node_name(d) for d in depends if d.startswith("model."))
        sources = tuple(_node_name(d) for d in depends if d.startswith("source."))
        if node["resource_type"] == "model":
            meta = node.get("config", {}).get("meta") or {}
            affected = {s: tuple(cols or ()) for s, cols in (meta.get("affected_by") or {}).items()}
            models[node["name"]] = ModelNeeds(
                node["name"], node.get("schema", ""), upstream, sources, tuple(meta.get("needs") or ()), affected
            )
        elif node["resource_type"] == "test":
            tests.append(DataTest(node["name"], upstream, sources))
    return Project(models, tests)


def absent_sources(store: LakeStore, sources: Mapping[str, Source], canonical: Iterable[str]) -> list[str]:
    """The canonical sources the marts get no rows of: not in ``sources`` (the effective
    configuration), or never delivered: no bronze Parquet, or only the empty partitions the
    ingestion writes for days without a delivery.

    One listing per source and one Parquet footer, its largest file's: a file with rows is
    larger than the empty file of the same schema, so when that one has none, none has.
    """
    absent = []
    for name in canonical:
        source = sources.get(name)
        files = store.list_files(source.bronze_dir, "*.parquet", recursive=True) if source else []
        if not files:
            absent.append(name)
            continue
        if store.parquet_metadata(max(files, key=lambda f: f.size).path).num_rows == 0:
            absent.append(name)
    return absent


def _join(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class Coverage:
    """What a build makes of the sources a platform delivers."""

    absent: tuple[str, ...]
    skipped: dict[str, tuple[str, ...]]  # every skipped model: the absent sources it needs
    marts: tuple[str, ...]  # every mart of the project, built or not
    affected: dict[str, dict[str, tuple[str, ...]]]  # built mart: {absent source: columns it empties}
    excluded_tests: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.absent

    @property
    def skipped_marts(self) -> dict[str, str]:
        """Each skipped mart and why, in the marts' order."""
        return {m: self.reason(m) for m in self.marts if m in self.skipped}

    @property
    def built_marts(self) -> list[str]:
        return [m for m in self.marts if m not in self.skipped]

    def reason(self, model: str) -> str:
        """Why ``model`` is skipped, e.g. 'inventory_flow_breaks needs stock_movements, which
        this platform does not deliver'."""
        return f"{model} needs {_join(self.skipped[model])}, which this platform does not deliver"

    def empty_columns(self, mart: str) -> dict[str, list[str]]:
        """A built mart's columns that an absent source leaves zero or null: {column: [sources]}."""
        columns: dict[str, list[str]] = {}
        for source, names in self.affected.get(mart, {}).items():
            for name in names:
                columns.setdefault(name, []).append(source)
        return columns

    def dbt_args(self) -> list[str]:
        """``--exclude`` of the skipped models and the data tests that cannot run, or nothing."""
        excluded = [*sorted(self.skipped), *self.excluded_tests]
        return ["--exclude", " ".join(excluded)] if excluded else []

    def dbt_env(self) -> dict[str, str]:
        """What the staging views and ``ref_unless_skipped`` read (transforms/macros/partial_sources.sql)."""
        return {
            "SUPPLYLOOP_ABSENT_SOURCES": ",".join(self.absent),
            "SUPPLYLOOP_SKIPPED_MODELS": ",".join(sorted(self.skipped)),
        }

    def fingerprint(self, models: str) -> str:
        """The models' fingerprint for the build record: another set of absent sources means
        other SQL in the staging views, so its first build is full. Unchanged with every source."""
        return f"{models}+absent:{','.join(self.absent)}" if self.absent else models

    def as_dict(self) -> dict:
        return {
            "sources_not_delivered": list(self.absent),
            "marts_skipped": self.skipped_marts,
            "columns_affected": {m: self.empty_columns(m) for m in self.built_marts if self.affected.get(m)},
        }

    def feed_note(self, mart: str = FEED_MART) -> dict:
        """For a feed's manifest: the sources not delivered and the feed's columns they leave at zero."""
        if self.complete:
            return {}
        return {
            "sources_not_delivered": list(self.absent),
            "columns_affected": self.empty_columns(mart),
            "note": "the affected columns count what the sources not delivered would add (stock, open "
            "production) as zero",
        }

    def lines(self) -> list[str]:
        """The coverage in plain words, for the run summary and the log; nothing with every source."""
        if self.complete:
            return []
        lines = [f"sources not delivered: {', '.join(self.absent)}"]
        lines += [f"  skipped: {reason}" for reason in self.skipped_marts.values()]
        for mart in self.built_marts:
            if self.affected.get(mart):
                lines.append(f"  {self.without(mart)}")
        return lines

    def without(self, mart: str) -> str:
        """'supplier_replenishment built without work_orders and factories (open_production, ...)':
        the absent sources a built mart reads, each with the columns it leaves zero or null."""
        by_columns: dict[tuple[str, ...], list[str]] = {}
        for source, columns in self.affected.get(mart, {}).items():
            by_columns.setdefault(columns, []).append(source)
        parts = [f"{_join(sources)} ({', '.join(columns)})" for columns, sources in by_columns.items()]
        return f"{mart} built without " + "; ".join(parts)


def plan_coverage(project: Project, absent: Iterable[str]) -> Coverage:
    """Which models a build skips for the ``absent`` sources, and which columns the built marts lack."""
    absent = tuple(sorted(set(absent)))
    missing: dict[str, tuple[str, ...]] = {}  # model: absent sources it cannot do without (empty: built)

    def visit(name: str, path: tuple[str, ...] = ()) -> tuple[str, ...]:
        if name in missing:
            return missing[name]
        if name in path:
            raise ValueError(f"the dbt models form a cycle through {name}")
        model = project.models[name]
        lacking = {s for s in model.needs if s in absent}
        for upstream in model.models:
            if upstream in project.models:
                lacking.update(s for s in visit(upstream, (*path, name)) if s not in model.affected_by)
        missing[name] = tuple(sorted(lacking))
        return missing[name]

    for name in project.models:
        visit(name)
    skipped = {name: lacking for name, lacking in missing.items() if lacking}
    marts = tuple(sorted(name for name, model in project.models.items() if model.is_mart))
    affected = {
        mart: {s: cols for s, cols in project.models[mart].affected_by.items() if s in absent}
        for mart in marts
        if mart not in skipped
    }
    empty_views = {name for name, model in project.models.items() if set(model.sources) & set(absent)}
    excluded_tests = tuple(
        sorted(
            test.name
            for test in project.tests
            if set(test.models) & (set(skipped) | empty_views) or set(test.sources) & set(absent)
        )
    )
    return Coverage(absent, skipped, marts, {m: a for m, a in affected.items() if a}, excluded_tests)


def lake_coverage(store: LakeStore, manifest: Mapping | Path | None = None) -> Coverage:
    """The coverage of the lake's bronze under the effective sources configuration."""
    return plan_coverage(read_project(manifest), absent_sources(store, load_sources(), canonical_sources()))


def summary_lines(store: LakeStore, manifest: Mapping | Path | None = None) -> list[str]:
    """The run summary's lines about absent sources (none with every source delivered).

    Without a parsed dbt project (no manifest yet) only the sources are named.
    """
    absent = absent_sources(store, load_sources(), canonical_sources())
    if not absent:
        return []
    path = manifest if manifest is not None else MANIFEST
    if not isinstance(path, Mapping) and not Path(path).exists():
        return [f"sources not delivered: {', '.join(absent)} (parse the dbt project to see which marts that affects)"]
    return plan_coverage(read_project(path), absent).lines()


def feed_coverage(store: LakeStore, manifest: Mapping | Path | None = None) -> dict:
    """For a supplier feed's manifest: ``{"partial_sources": ...}``, the sources not delivered
    and the feed's columns that count them as zero; nothing with every source delivered."""
    absent = absent_sources(store, load_sources(), canonical_sources())
    if not absent:
        return {}
    path = manifest if manifest is not None else MANIFEST
    if not isinstance(path, Mapping) and not Path(path).exists():
        return {"partial_sources": {"sources_not_delivered": absent}}
    return {"partial_sources": plan_coverage(read_project(path), absent).feed_note()}
