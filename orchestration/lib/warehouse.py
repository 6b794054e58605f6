"""The warehouse: the DuckDB file dbt builds, published for BI tools, and the marts as Parquet.

dbt builds into a private *build* file (staging views, intermediate tables, marts and the
build's record); BI tools read the *published* file at ``<lake>/warehouse.duckdb``, which
holds the schema ``marts`` alone, each table and column with its description as a comment.
Publishing replaces that file in one step (a rename locally, one upload on S3), so a reader
that has the old file open keeps reading it and a new reader gets the new one: a build never
breaks a reader, and readers never block a build. Each mart is also written to
``<lake>/marts/<mart>/`` as Parquet for any engine (a daily mart as a file a month, the
others as ``part-0.parquet``; see :meth:`Warehouse.publish_marts`).

What a build read (bronze partitions and the models' fingerprint) is recorded inside the
build file itself (``_supplyloop.build_record``), so the record always describes the data
next to it. The build file lives in the lake (``<lake>/.build/warehouse.duckdb``; on S3 a
copy is kept there after every build), so a machine that starts empty (a new cloud task)
builds incrementally from it instead of rebuilding every day.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from orchestration.lib.lake import LakeStore
from orchestration.lib.landing import SNAPSHOT
from orchestration.lib.locks import lake_lock
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.rules import ident

PUBLISHED = "warehouse.duckdb"
# the whole build (what BI tools do not see: staging, intermediate, the build's record)
BUILD = ".build/warehouse.duckdb"
MARTS_SCHEMA = "marts"
RECORD_SCHEMA, RECORD_TABLE = "_supplyloop", "_supplyloop.build_record"
# dbt's parse cache, and where builds on S3 keep it in the lake: their machines start empty
PARSE_CACHE_FILE = "partial_parse.msgpack"
PARSE_CACHE = f".build/dbt/{PARSE_CACHE_FILE}"


def sql_string(value: str) -> str:
    """``value`` as a SQL string literal.

    The warehouse's own queries after a build (the record, the marts' list, their metadata)
    spell their few values out instead of binding them: DuckDB's Python client imports pandas
    the first time a query binds a Python value, which cost 0.4-0.9 s of every marts run.
    """
    return "'" + value.replace("'", "''") + "'"


def mart_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The marts (tables of the marts schema) in the warehouse ``con`` is open on, sorted."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        f"AND schema_name = {sql_string(MARTS_SCHEMA)} AND NOT temporary ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def _day_range(prefix: str, days: list[date]) -> dict[str, str]:
    """``{prefix}_START_DAY`` and ``{prefix}_END_DAY``: the first and last of ``days``; with no
    days, a range after every day, which no model or test reads, even from it onward."""
    first, last = (days[0], days[-1]) if days else (date.max, date.max)
    return {f"{prefix}_START_DAY": first.isoformat(), f"{prefix}_END_DAY": last.isoformat()}


@dataclass(frozen=True)
class BuildPlan:
    """What a build redoes: everything, or only the business days whose bronze changed.

    Daily marts are incremental: they replace just ``days`` (as the range first..last).
    A changed master-data snapshot (a renamed partner type, a new supplier) reaches every
    day, so it makes the build full; a full plan's ``days`` are every day of the history,
    which its heaviest models build a month at a time.

    ``bronze_days``: in a full build that only a snapshot forced (the models are those of the
    last build), the days of the daily sources whose bronze changed, maybe none. The other
    days' staging rows are what the last build tested, so the tests of a daily source's
    staging alone (ids, accepted values) look at these days only; tests that also read
    master data, and every model's tests, still see every day.
    """

    full: bool
    days: list[date] = field(default_factory=list)
    bronze_days: list[date] | None = None

    def dbt_args(self) -> list[str]:
        # dbt's unit tests check the models' logic on fixed rows, not the data: they run in
        # development and CI (tests/), not in every production build (dbt's own advice)
        build = ["build", "--exclude-resource-type", "unit_test"]
        return [*build, "--full-refresh"] if self.full else build

    def dbt_env(self) -> dict[str, str]:
        """The window an incremental build rebuilds, or the history a full one builds by month
        and the days whose bronze changed (transforms/macros/build_window.sql)."""
        if self.full:
            env = {}
            if self.days:
                env["SUPPLYLOOP_HISTORY_FIRST_DAY"] = self.days[0].isoformat()
                env["SUPPLYLOOP_HISTORY_LAST_DAY"] = self.days[-1].isoformat()
            if self.bronze_days is not None:
                env.update(_day_range("SUPPLYLOOP_BRONZE", self.bronze_days))
            return env
        return _day_range("SUPPLYLOOP", self.days)


LEDGERS = ("deliveries", "feed_outcomes")  # transforms/models/staging/_sources.yml, source `ledger`


def _s3_credentials() -> dict[str, str]:
    """Credentials from the standard AWS chain, handed to DuckDB (which cannot walk the chain
    itself without an extension it cannot download here)."""
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise RuntimeError(
            "no AWS credentials found: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a task role"
        )
    frozen = credentials.get_frozen_credentials()
    return {
        "DBT_S3_KEY_ID": frozen.access_key,
        "DBT_S3_SECRET": frozen.secret_key,
        "DBT_S3_SESSION_TOKEN": frozen.token or "",
    }


def history_days(bronze: dict[str, dict[str, float]]) -> list[date]:
    """Every business day any daily source holds (``{source: {partition: written at}}``)."""
    return sorted({date.fromisoformat(p) for partitions in bronze.values() for p in partitions if p != SNAPSHOT})


def state_dir() -> Path:
    """Where a machine keeps its working build of the warehouse: ``$SUPPLYLOOP_STATE``; unset,
    ``.state/`` in the project, or ``~/.cache/supplyloop/state`` where this user cannot write
    the project's folder (code installed read-only, as in the image, which sets the variable)."""
    if os.environ.get("SUPPLYLOOP_STATE"):
        return Path(os.environ["SUPPLYLOOP_STATE"])
    local = PROJECT_ROOT / ".state"
    if os.access(local if local.exists() else PROJECT_ROOT, os.W_OK):
        return local
    return Path.home() / ".cache" / "supplyloop" / "state"


@dataclass(frozen=True)
class Warehouse:
    """The build and published locations of the warehouse for one lake."""

    store: LakeStore

    @property
    def build_path(self) -> Path:
        if self.store.is_s3:
            return state_dir() / "warehouse-build.duckdb"
        return Path(self.store.fs_path(BUILD))

    @property
    def _build_is_in_the_lake(self) -> bool:
        """True when this machine builds in the lake's own build file (a local lake)."""
        return not self.store.is_s3 and self.build_path == Path(self.store.fs_path(BUILD))

    @property
    def dbt_target_path(self) -> Path:
        """dbt's artifacts for this build, kept between runs so dbt parses only what changed."""
        return self.build_path.with_name("dbt-target")

    @property
    def log_dir(self) -> Path:
        """dbt's full log of each build, a file a build, beside the build: in the lake's
        ``.build/logs/`` on a local lake, in the machine's state folder on an S3 lake."""
        return self.build_path.with_name("logs")

    def new_build_log(self, run_id: str, keep: int = 20) -> Path:
        """The path of this build's log; the oldest logs past the newest ``keep`` are removed."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        logs = sorted(self.log_dir.glob("dbt-build-*.log"))  # oldest first: named by their time
        for old in logs[: max(0, len(logs) - (keep - 1))]:
            old.unlink(missing_ok=True)
        return self.log_dir / f"dbt-build-{time.strftime('%Y%m%d-%H%M%S')}-{run_id[:8]}.log"

    @property
    def published_uri(self) -> str:
        return self.store.uri(PUBLISHED)

    def dbt_env(self) -> dict[str, str]:
        """The environment transforms/profiles.yml reads: where the lake and the build are."""
        env = {
            "LAKE_ROOT": self.store.root if self.store.is_s3 else self.store.fs_path(""),
            "WAREHOUSE_PATH": str(self.build_path),
            "DBT_TARGET": "s3" if self.store.is_s3 else "local",
            # the pipeline's own ledgers (bronze/_<name>) not written yet read as empty tables
            "SUPPLYLOOP_EMPTY_LEDGERS": ",".join(
                name for name in LEDGERS if not self.store.list_files(f"bronze/_{name}", "*.parquet", recursive=True)
            ),
        }
        endpoint = self.store.endpoint
        if endpoint is not None and endpoint.host:
            env.update(
                DBT_S3_ENDPOINT=endpoint.host,
                DBT_S3_URL_STYLE="path",
                DBT_S3_USE_SSL="true" if endpoint.scheme == "https" else "false",
            )
        if endpoint is not None and endpoint.region:
            env["AWS_REGION"] = endpoint.region
        if self.store.is_s3:
            env.update(_s3_credentials())
        return env

    def lock(self, run_id: str | None, say):
        """Hold the lake's warehouse lock for a whole build (prepare .. publish): builds of one
        lake go one at a time, whichever Dagster instance runs them (:mod:`orchestration.lib.locks`)."""
        return lake_lock(self.store, "warehouse", "the warehouse", run_id=run_id, say=say)

    def prepare(self) -> None:
        """Start the build from the lake's build file when this machine has no build yet.

        On S3 the machine also gets dbt's parse cache from the lake, so a new task does not
        parse the whole project again (dbt discards a cache made for other settings).
        """
        self.build_path.parent.mkdir(parents=True, exist_ok=True)
        cache = self.dbt_target_path / PARSE_CACHE_FILE
        if self.store.is_s3 and not cache.exists() and self.store.exists(PARSE_CACHE):
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(self.store.read_bytes(PARSE_CACHE))
        if self.build_path.exists() or self._build_is_in_the_lake or not self.store.exists(BUILD):
            return
        with self.store.open_input(BUILD) as src, open(self.build_path, "wb") as dst:
            shutil.copyfileobj(src, dst, length=8 << 20)

    def start_over(self) -> None:
        """Before a full build: an empty build file instead of the last build's.

        A full build rewrites every table anyway, and in the old file each replaced table's
        blocks would stay behind as free space (DuckDB reuses it but does not give it back),
        so every publish would copy, and every new cloud task download, about twice the data.
        """
        for path in (self.build_path, self.build_path.with_name(self.build_path.name + ".wal")):
            path.unlink(missing_ok=True)

    def plan(self, bronze: dict[str, dict[str, float]], models: str) -> BuildPlan:
        """Compare bronze (``{source: {partition: written at}}``) with what the last build read.

        ``models`` fingerprints the dbt project (``project.models_fingerprint``): when a model,
        macro or contract changed since the last build, every day is rebuilt, so that no daily
        mart mixes days built by the old logic with days built by the new, and no incremental
        table meets a column type it was not created with.
        """
        history = history_days(bronze)
        built = self._read_record()
        if built is None or built.get("models") != models:
            return BuildPlan(full=True, days=history)
        previous = built["bronze"]
        changed: set[date] = set()
        snapshot_changed = False
        for source, partitions in bronze.items():
            before = previous.get(source, {})
            for partition, stamp in partitions.items():
                if before.get(partition) == stamp:
                    continue
                if partition == SNAPSHOT:
                    snapshot_changed = True
                else:
                    changed.add(date.fromisoformat(partition))
        if snapshot_changed:
            return BuildPlan(full=True, days=history, bronze_days=sorted(changed))
        return BuildPlan(full=False, days=sorted(changed))

    def _read_record(self) -> dict | None:
        if not self.build_path.exists():
            return None
        with duckdb.connect(str(self.build_path), read_only=True) as con:
            try:
                row = con.execute(f"SELECT record FROM {RECORD_TABLE}").fetchone()
            except duckdb.CatalogException:  # a build made before builds were recorded
                return None
        return json.loads(row[0]) if row else None

    def record(self, bronze: dict[str, dict[str, float]], models: str) -> None:
        """Remember in the build what bronze it read, and with which models, for the next plan.

        Called after a successful build and before publishing, so the published file carries
        the record of exactly its own contents. On S3 dbt's parse cache goes to the lake too,
        for the next machine (see :meth:`prepare`).
        """
        record = json.dumps({"models": models, "bronze": bronze}, sort_keys=True)
        with duckdb.connect(str(self.build_path)) as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {RECORD_SCHEMA}")
            con.execute(
                f"CREATE OR REPLACE TABLE {RECORD_TABLE} AS SELECT {sql_string(record)}::VARCHAR AS record, now() AS built_at"
            )
        cache = self.dbt_target_path / PARSE_CACHE_FILE
        if self.store.is_s3 and cache.exists():
            self.store.write_bytes(PARSE_CACHE, cache.read_bytes())

    @property
    def export_dir(self) -> Path:
        """Where dbt writes the marts' Parquet during a build (transforms/macros/export_mart.sql)."""
        return self.build_path.with_name("export")

    def export_env(self) -> dict[str, str]:
        """An empty export folder for the next build, as the environment dbt reads it from."""
        self.discard_export()
        self.export_dir.mkdir(parents=True)
        return {"SUPPLYLOOP_EXPORT_DIR": str(self.export_dir)}

    def publish_marts(
        self, partitioned: dict[str, str], plan: BuildPlan, dropped: list[str] | tuple[str, ...] = ()
    ) -> dict[str, int]:
        """Move each mart's Parquet, which dbt wrote as it built the mart, into the lake; returns
        its rows.

        Marts in ``partitioned`` ({mart: day column}) go to ``marts/<mart>/month=YYYY-MM/``
        (a month of a daily mart is a good Parquet file: hundreds of thousands of rows, where a
        day would be thousands), and an incremental build has written only the months of its
        window; the others are one file, ``marts/<mart>/part-0.parquet``. Every file is moved
        into the lake on its own, so a reader sees a month's old file or its new one, never a
        half-written one.

        ``dropped``: marts this build skipped (a source they need is not delivered); whatever an
        earlier build published of them is removed, so no reader takes it for current.
        """
        rows = {}
        try:
            with duckdb.connect(str(self.build_path), read_only=True) as con:
                for name in mart_names(con):
                    rows[name] = con.execute(f'SELECT count(*) FROM {MARTS_SCHEMA}."{name}"').fetchone()[0]
            for name in rows:
                if name not in partitioned:
                    self.store.put_file(self._exported(f"{name}.parquet"), f"marts/{name}/part-0.parquet")
                    continue
                written = set()
                for path in sorted((self.export_dir / name).glob("month=*/*.parquet")):
                    written.add(f"marts/{name}/{path.parent.name}/part-0.parquet")
                    self.store.put_file(path, f"marts/{name}/{path.parent.name}/part-0.parquet")
                if plan.full:  # months (or an older layout's files) the build no longer has
                    for stale in self.store.list_files(f"marts/{name}", "*.parquet", recursive=True):
                        if stale.path not in written:
                            self.store.delete(stale.path)
            for name in dropped:
                if name not in rows:
                    self.store.delete_dir(f"marts/{name}")
        finally:
            self.discard_export()
        return rows

    def discard_export(self) -> None:
        """Drop what a build exported (after publishing it, or after a failed build)."""
        shutil.rmtree(self.export_dir, ignore_errors=True)

    def _exported(self, name: str) -> Path:
        path = self.export_dir / name
        if not path.exists():
            raise RuntimeError(
                f"the build wrote no {path}: every mart needs the post-hook export_mart() "
                "(transforms/dbt_project.yml, models: marts:)"
            )
        return path

    def publish(self) -> str:
        """Replace the published warehouse with the build's marts in one step; returns its URI.

        The published file holds the schema ``marts`` alone, so BI tools list nothing else; the
        rest of the build (staging, intermediate, the record) stays in the build file, which
        on S3 is then kept in the lake for the next machine (see :meth:`prepare`).
        """
        marts = self.build_path.with_name(f"published-{uuid.uuid4().hex[:8]}.duckdb")
        try:
            copy_marts(self.build_path, marts)
            self.store.put_file(marts, PUBLISHED)  # a rename on a local lake
        finally:
            marts.unlink(missing_ok=True)
        if not self._build_is_in_the_lake:
            self._upload(self.build_path, BUILD)
        return self.published_uri

    def _upload(self, path: Path, rel: str) -> None:
        with open(path, "rb") as src, self.store.atomic_output(rel) as out:
            shutil.copyfileobj(src, out, length=8 << 20)


def copy_marts(build: Path, target: Path) -> None:
    """A new DuckDB file at ``target`` with the marts of ``build``: each table as the build
    declares it (types, NOT NULL), its rows, and its table and column comments."""
    schema = ident(MARTS_SCHEMA)
    with duckdb.connect(str(target)) as con:
        con.execute(f"ATTACH {sql_string(str(build))} AS build (READ_ONLY)")
        tables = con.execute(
            "SELECT table_name, sql, comment FROM duckdb_tables() WHERE database_name = 'build' "
            f"AND schema_name = {sql_string(MARTS_SCHEMA)} ORDER BY table_name"
        ).fetchall()
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = 'build' "
            f"AND schema_name = {sql_string(MARTS_SCHEMA)} AND comment IS NOT NULL ORDER BY table_name, column_index"
        ).fetchall()
        con.execute("BEGIN")
        con.execute(f"CREATE SCHEMA {schema}")
        for name, ddl, comment in tables:
            con.execute(ddl)  # CREATE TABLE marts.<name>(...), in the new file
            con.execute(f"INSERT INTO {schema}.{ident(name)} SELECT * FROM build.{schema}.{ident(name)}")
            if comment is not None:
                con.execute(f"COMMENT ON TABLE {schema}.{ident(name)} IS {sql_string(comment)}")
        for table, column, comment in columns:
            con.execute(f"COMMENT ON COLUMN {schema}.{ident(table)}.{ident(column)} IS {sql_string(comment)}")
        con.execute("COMMIT")
        con.execute("DETACH build")
