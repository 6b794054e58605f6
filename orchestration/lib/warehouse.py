"""The warehouse: the DuckDB file dbt builds, published for BI tools, and the marts as Parquet.

dbt builds into a private *build* file (staging views, intermediate tables, marts and the
build's record). Each mart is published as Parquet, and BI tools read the *published* file
at ``<lake>/warehouse.duckdb``: a small catalog, the schema ``marts`` alone, a view per mart
over its Parquet files, each view and column with its description as a comment.

A new day must not copy the history (at a year, the marts are about 150 MB), so publishing
writes what changed and little else:

- ``warehouse/<mart>/<part>-<sha>.parquet``: every file a catalog reads, named by its
  content and never overwritten. A daily mart is a file a day (the part is the day), any
  other mart one file (``all``). A file already stored is not written again, so an
  incremental build stores the days it changed and the marts whose content changed; the
  same rows give the same bytes (transforms/macros/export_mart.sql), hence the same name.
- ``warehouse/manifest.json``: the files of each mart, and the files retired, since when.
- ``warehouse.duckdb``: the catalog, written anew from the manifest and replaced in one step
  (a rename locally, one upload on S3), last: a reader sees the previous marts or the new
  ones, never half of each; a reader that has the old catalog open keeps reading the old
  files, which stay a day (:data:`RETIRED_KEPT_S`) after a catalog last read them; then they
  are removed, so the lake does not grow with every build.
- ``marts/<mart>/<day>.parquet`` (daily marts) and ``marts/<mart>/part-0.parquet`` (the
  others): the current files at fixed names for any engine and the feeds, each replaced on
  its own (a hard link locally, a server-side copy on S3: no byte is sent twice).

On S3 the catalog's views read ``s3://`` paths: a reader needs DuckDB's httpfs and the lake's
credentials (:func:`s3_secret_sql`, README "BI tools").

What a build read (bronze partitions and the models' fingerprint) is recorded inside the
build file itself (``_supplyloop.build_record``), so the record always describes the data
next to it. The build file lives in the lake, so a machine that starts empty (a new cloud
task) builds incrementally from it instead of rebuilding every day: on a local lake dbt
builds in ``<lake>/.build/warehouse.duckdb`` itself; on S3 the machine builds on its own disk
and keeps the file in the lake as pieces named by their content, DuckDB's headers and each
of its 256 KiB blocks (``.build/pieces/<sha256>``, listed in ``.build/warehouse.pieces.json``).
A new day sends only the pieces the lake lacks: the blocks it changed, 28-36% of the small
demo's file, where 5 MiB parts of the file (a multipart upload's smallest) are 86-100%
changed, DuckDB's changed blocks being spread over it. A kept build that does not
check out against its list is not used: the next build is then a full one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from orchestration.lib.lake import TMP_MARK, LakeStore
from orchestration.lib.landing import SNAPSHOT
from orchestration.lib.locks import lake_lock
from orchestration.lib.paths import PROJECT_ROOT, TRANSFORMS_DIR
from orchestration.lib.rules import ident

PUBLISHED = "warehouse.duckdb"
# the Parquet files the published catalog reads, each named by its content and never
# overwritten, and the manifest that lists each mart's files (and those retired, since when)
OBJECTS = "warehouse"
MANIFEST = f"{OBJECTS}/manifest.json"
ALL, NULL_DAY = "all", "null"  # the part of a mart that is not by day; a day column's NULL
# how long a file a newer catalog no longer reads stays, for readers of an older catalog
RETIRED_KEPT_S = 24 * 3600
# an incremental build exports its window's days onward, from this many days before the
# window: the most any daily mart rebuilds before it (clear_build_window's days_before)
EXPORT_DAYS_BEFORE = 7
# the whole build (what BI tools do not see: staging, intermediate, the build's record)
BUILD = ".build/warehouse.duckdb"
# on S3, the build as pieces named by their content, and the list of them that makes the file
PIECES = ".build/pieces"
PIECE_LIST = ".build/warehouse.pieces.json"
# a DuckDB file is its headers (3 x 4 KiB), then blocks of 256 KiB (its default block size): a
# piece is one of them, so a block the build left as it was is a piece the lake holds already
HEADER_BYTES, BLOCK_BYTES = 3 * 4096, 256 * 1024
FETCH_WORKERS = 8
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

    ``last_day``: the history's last business day, passed to every build: the definitions that
    look back a fixed span (transforms/macros/build_window.sql, ``in_trailing_days``) read
    only that span's partitions, full build or incremental.
    """

    full: bool
    days: list[date] = field(default_factory=list)
    bronze_days: list[date] | None = None
    last_day: date | None = None

    def dbt_args(self) -> list[str]:
        # dbt's unit tests check the models' logic on fixed rows, not the data: they run in
        # development and CI (tests/), not in every production build (dbt's own advice)
        build = ["build", "--exclude-resource-type", "unit_test"]
        return [*build, "--full-refresh"] if self.full else build

    def dbt_env(self) -> dict[str, str]:
        """The window an incremental build rebuilds, or the history a full one builds by month
        and the days whose bronze changed (transforms/macros/build_window.sql)."""
        last_day = self.last_day or (self.days[-1] if self.full and self.days else None)
        env = {"SUPPLYLOOP_HISTORY_LAST_DAY": last_day.isoformat()} if last_day else {}
        if not self.full:
            return {**env, **_day_range("SUPPLYLOOP", self.days)}
        if self.days:
            env["SUPPLYLOOP_HISTORY_FIRST_DAY"] = self.days[0].isoformat()
        if self.bronze_days is not None:
            env.update(_day_range("SUPPLYLOOP_BRONZE", self.bronze_days))
        return env


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

    def prepare(self, say=None) -> None:
        """Start the build from the lake's build file when this machine has no build yet.

        On S3 the file is put together from its pieces (:meth:`_keep_pieces`); a copy that
        does not check out is not used (``say`` tells why): the build is then a full one,
        as on a machine with no build at all. The machine also gets dbt's parse cache from
        the lake, so a new task does not parse the whole project again (dbt discards a cache
        made for other settings).
        """
        self.build_path.parent.mkdir(parents=True, exist_ok=True)
        cache = self.dbt_target_path / PARSE_CACHE_FILE
        if self.store.is_s3 and not cache.exists() and self.store.exists(PARSE_CACHE):
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(self.store.read_bytes(PARSE_CACHE))
        # else the parse the project's own target holds (an image parses once as it is built):
        # copied here as a file of this user's, writable, where dagster-dbt's own copy keeps
        # the source's mode, and dbt could not update a cache copied from read-only code
        image_cache = TRANSFORMS_DIR / "target" / PARSE_CACHE_FILE
        if not cache.exists() and image_cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(image_cache.read_bytes())
        if self.build_path.exists() or self._build_is_in_the_lake:
            return
        tmp = self.build_path.with_name(f".{self.build_path.name}{TMP_MARK}{uuid.uuid4().hex[:12]}")
        try:
            if self.store.exists(PIECE_LIST):
                self._fetch_pieces(tmp)
            elif self.store.exists(BUILD):  # the whole file, as builds before the pieces kept it
                with self.store.open_input(BUILD) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=8 << 20)
            else:
                return
            tmp.replace(self.build_path)
        except (FileNotFoundError, ValueError, KeyError, TypeError) as error:  # the plan sees no build: a full one
            if say is not None:
                say(f"the build kept in the lake cannot be used ({error}): this build starts anew, in full")
        finally:
            tmp.unlink(missing_ok=True)

    def _fetch_pieces(self, target: Path) -> None:
        """The build file from its pieces in the lake (:meth:`_keep_pieces`), each checked
        against its name and the whole against the list's size and digest: a piece missing or
        not what its name says raises, and no file is left to start an incremental build from."""
        listed = json.loads(self.store.read_bytes(PIECE_LIST))
        names, whole = listed["pieces"], hashlib.sha256()
        with ThreadPoolExecutor(FETCH_WORKERS) as pool, open(target, "wb") as out:
            for start in range(0, len(names), 4 * FETCH_WORKERS):  # a few MiB in memory at a time
                batch = names[start : start + 4 * FETCH_WORKERS]
                for name, data in zip(batch, pool.map(lambda n: self.store.read_bytes(f"{PIECES}/{n}"), batch)):
                    if hashlib.sha256(data).hexdigest() != name:
                        raise ValueError(f"{self.store.uri(f'{PIECES}/{name}')} does not hold what its name says")
                    whole.update(data)
                    out.write(data)
        if target.stat().st_size != listed["size"] or whole.hexdigest() != listed["sha256"]:
            raise ValueError(f"the pieces listed in {self.store.uri(PIECE_LIST)} do not make the file it describes")

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
        return BuildPlan(full=False, days=sorted(changed), last_day=history[-1] if history else None)

    def _read_record(self) -> dict | None:
        if not self.build_path.exists():
            return None
        with duckdb.connect(str(self.build_path), read_only=True) as con:
            try:
                row = con.execute(f"SELECT record FROM {RECORD_TABLE}").fetchone()
            except duckdb.CatalogException:  # a build made before builds were recorded
                return None
        return json.loads(row[0]) if row else None

    def record(self, bronze: dict[str, dict[str, float]], models: str) -> int:
        """Remember in the build what bronze it read, and with which models, for the next plan;
        returns the bytes of the build sent to the lake (none on a local lake).

        Called once the build is published: a build killed before leaves the last record,
        so the next one rebuilds (and publishes) the same days again. On S3 the build, record
        included, and dbt's parse cache go to the lake too, for the next machine (see
        :meth:`prepare`); a local lake builds in the lake's own build file.
        """
        record = json.dumps({"models": models, "bronze": bronze}, sort_keys=True)
        with duckdb.connect(str(self.build_path)) as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {RECORD_SCHEMA}")
            con.execute(
                f"CREATE OR REPLACE TABLE {RECORD_TABLE} AS SELECT {sql_string(record)}::VARCHAR AS record, now() AS built_at"
            )
            con.execute("CHECKPOINT")  # everything in the file itself, no write-ahead log beside it
        cache = self.dbt_target_path / PARSE_CACHE_FILE
        if self.store.is_s3 and cache.exists():
            self.store.write_bytes(PARSE_CACHE, cache.read_bytes())
        if not self._build_is_in_the_lake:
            return self._keep_pieces()
        return 0

    def _keep_pieces(self) -> int:
        """Keep the build file in the lake as pieces named by their content; returns the bytes
        sent.

        A piece is DuckDB's headers or one of its 256 KiB blocks (:data:`BLOCK_BYTES`), stored
        at ``.build/pieces/<sha256>`` unless the lake holds it already: a new day changes
        the blocks of what it appended and of the tables rebuilt whole, and sends those alone
        (28-36% of the file at the small demo, where 5 MiB parts of a multipart upload would
        send 86-100%). The list of pieces (:data:`PIECE_LIST`, with the file's size
        and digest) is written after every piece it names, in one step; the pieces no list
        names any more are removed after it. A build killed on the way leaves the previous
        list and every piece it names; a list or piece that lies fails :meth:`prepare`'s
        checks, so at worst the next machine builds in full.
        """
        stored = {f.name for f in self.store.list_files(PIECES)}
        names, whole, sent = [], hashlib.sha256(), 0
        for data in _pieces(self.build_path):
            name = hashlib.sha256(data).hexdigest()
            whole.update(data)
            names.append(name)
            if name not in stored:
                self.store.put_new(f"{PIECES}/{name}", data)
                stored.add(name)
                sent += len(data)
        listed = {"size": self.build_path.stat().st_size, "sha256": whole.hexdigest(), "pieces": names}
        self.store.write_bytes(PIECE_LIST, json.dumps(listed).encode())
        for name in stored - set(names):
            self.store.delete(f"{PIECES}/{name}")
        self.store.delete(BUILD)  # the whole file, as builds before the pieces kept it
        return sent

    @property
    def export_dir(self) -> Path:
        """Where dbt writes the marts' Parquet during a build (transforms/macros/export_mart.sql)."""
        return self.build_path.with_name("export")

    def export_env(self, plan: BuildPlan | None = None) -> dict[str, str]:
        """An empty export folder for the next build, as the environment dbt reads it from, and
        for an incremental ``plan`` the first day whose Parquet dbt writes again."""
        self.discard_export()
        self.export_dir.mkdir(parents=True)
        env = {"SUPPLYLOOP_EXPORT_DIR": str(self.export_dir)}
        if plan is not None and not plan.full:
            first = plan.days[0] - timedelta(days=EXPORT_DAYS_BEFORE) if plan.days else date.max
            env["SUPPLYLOOP_EXPORT_FROM_DAY"] = first.isoformat()
        return env

    def publish_marts(
        self, partitioned: dict[str, str], plan: BuildPlan, dropped: list[str] | tuple[str, ...] = ()
    ) -> dict[str, int]:
        """Put the marts' Parquet, which dbt wrote as it built each mart, into the lake; returns
        each mart's rows.

        Each file is first stored once under ``warehouse/<mart>/``, named by its content
        (:data:`OBJECTS`): the files the published catalog reads, never overwritten. A
        mart's current files are also at a fixed name for any engine: ``marts/<mart>/<day>.parquet``
        for a daily mart in ``partitioned`` ({mart: day column}), ``marts/<mart>/part-0.parquet``
        for the others (a copy made in the store: a hard link on a local disk, a server-side
        copy on S3). A file whose content is already stored is not written again, so an
        incremental build, which exports the days of its window, writes about those days.
        The plan is what exported them; publishing checks every mart against the build anyway
        (rows by day), and writes again from the build whatever the export lacks.

        ``dropped``: marts this build skipped (a source they need is not delivered); whatever an
        earlier build published of them is removed, so no reader takes it for current.
        """
        try:
            return self._sync(partitioned, dropped, exported=True)
        finally:
            self.discard_export()

    def _sync(self, partitioned: dict[str, str], dropped, exported: bool) -> dict[str, int]:
        """Bring the manifest (:data:`MANIFEST`) and ``marts/`` to the build's marts, from what
        dbt ``exported`` and, for what it did not, from the build itself."""
        manifest = self._manifest()
        before = dict(manifest["marts"])
        rows, marts = {}, {}
        with duckdb.connect(str(self.build_path), read_only=True) as con:
            for name in mart_names(con):
                table = f"{ident(MARTS_SCHEMA)}.{ident(name)}"
                day_column = partitioned.get(name) or (before.get(name) or {}).get("day_column")
                counts = _part_rows(con, table, day_column)
                rows[name] = sum(counts.values())
                previous = before.get(name) or {}
                parts = dict(previous.get("parts", {})) if previous.get("day_column") == day_column else {}
                stored = {f.path for f in self.store.list_files(f"{OBJECTS}/{name}", "*.parquet")}
                for key, path in (self._exported_parts(name, day_column) if exported else {}).items():
                    parts[key] = self._store_object(name, key, path, stored)
                for key in [k for k in parts if k not in counts]:
                    del parts[key]  # a day the build no longer has
                for key, count in counts.items():
                    if key not in parts or parts[key]["rows"] != count:
                        path = self._export_part(con, table, day_column, key)
                        parts[key] = self._store_object(name, key, path, stored)
                marts[name] = {"day_column": day_column, "parts": dict(sorted(parts.items()))}
                self._place(name, marts[name], previous)
        for name in dropped:
            if name not in rows:
                self.store.delete_dir(f"marts/{name}")
        manifest["marts"] = marts
        self._write_manifest(manifest, before)
        return rows

    def _exported_parts(self, name: str, day_column: str | None) -> dict[str, Path]:
        """The files dbt's post-hook wrote for a mart: {day or ``all``: file}."""
        if not day_column:
            return {ALL: self._exported(f"{name}.parquet")}
        return {
            path.parent.name.split("=", 1)[1].lower(): path
            for path in sorted((self.export_dir / name).glob("day=*/*.parquet"))
        }

    def _export_part(self, con: duckdb.DuckDBPyConnection, table: str, day_column: str | None, key: str) -> Path:
        """A part of a mart written from the build, as export_mart() writes it: sorted by every
        column, so the same rows give the same bytes."""
        self.export_dir.mkdir(parents=True, exist_ok=True)
        path = self.export_dir / f"rebuilt-{uuid.uuid4().hex[:8]}.parquet"
        if not day_column or key == ALL:
            where = "true"
        elif key == NULL_DAY:
            where = f"{ident(day_column)} IS NULL"
        else:
            where = f"{ident(day_column)} = DATE {sql_string(key)}"
        con.execute(
            f"COPY (SELECT * FROM {table} WHERE {where} ORDER BY ALL) "
            f"TO {sql_string(str(path))} (FORMAT parquet, COMPRESSION zstd)"
        )
        return path

    def _store_object(self, name: str, key: str, path: Path, stored: set[str]) -> dict:
        """Store a part under its content's name unless it is there already (in ``stored``); its
        manifest entry."""
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(8 << 20):
                digest.update(chunk)
        rel = f"{OBJECTS}/{name}/{key}-{digest.hexdigest()[:20]}.parquet"
        rows = pq.read_metadata(path).num_rows
        if rel in stored:
            path.unlink()
        else:
            self.store.put_file(path, rel)
            stored.add(rel)
        return {"path": rel, "rows": rows}

    def _place(self, name: str, mart: dict, previous: dict) -> None:
        """The mart's current parts at their fixed names in ``marts/<mart>/``; nothing else there."""
        was = {key: part["path"] for key, part in previous.get("parts", {}).items()}
        there = {f.path for f in self.store.list_files(f"marts/{name}", recursive=True)}
        wanted = set()
        for key, part in mart["parts"].items():
            rel = f"marts/{name}/{key}.parquet" if mart["day_column"] else f"marts/{name}/part-0.parquet"
            wanted.add(rel)
            if was.get(key) != part["path"] or rel not in there:
                self._copy(part["path"], rel)
        for stale in sorted(there - wanted):  # days gone, an older layout's files
            self.store.delete(stale)

    def _copy(self, src: str, dst: str) -> None:
        """``src`` at ``dst`` too, all at once: no byte crosses the network or is written twice."""
        if self.store.is_s3:
            self.store.fs.copy_file(self.store.fs_path(src), self.store.fs_path(dst))  # CopyObject
            return
        final = Path(self.store.fs_path(dst))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:12]}")
        try:
            os.link(self.store.fs_path(src), tmp)
        except OSError:  # a file system without hard links
            shutil.copyfile(self.store.fs_path(src), tmp)
        tmp.replace(final)

    def _manifest(self) -> dict:
        """The marts' parts as last published, and the parts retired since (``{path: when}``)."""
        if not self.store.exists(MANIFEST):
            return {"marts": {}, "retired": {}}
        return json.loads(self.store.read_bytes(MANIFEST))

    def _write_manifest(self, manifest: dict, before: dict) -> None:
        now = time.time()
        current = {part["path"] for mart in manifest["marts"].values() for part in mart["parts"].values()}
        retired = {path: when for path, when in manifest.get("retired", {}).items() if path not in current}
        for mart in before.values():
            for part in mart["parts"].values():
                if part["path"] not in current:
                    retired.setdefault(part["path"], now)
        manifest["retired"] = dict(sorted(retired.items()))
        self.store.write_bytes(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())

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

    def publish(self, keep_for: float = RETIRED_KEPT_S) -> str:
        """Replace the published warehouse with a catalog of the marts in one step; returns its URI.

        The published file holds the schema ``marts`` alone, a view per mart over the Parquet
        files the manifest lists (each with the build's table and column descriptions), so
        BI tools list nothing else and a new day publishes a small file, not the history. The
        files it reads are never overwritten, so a reader holding the previous catalog keeps
        reading the previous marts; files no catalog has read for ``keep_for`` seconds are
        removed (:meth:`collect`).
        """
        manifest = self._manifest()
        with duckdb.connect(str(self.build_path), read_only=True) as con:
            built = mart_names(con)
        if sorted(manifest["marts"]) != built:  # marts no export brought (a build by hand)
            self._sync({}, (), exported=False)
            manifest = self._manifest()
        catalog = self.build_path.with_name(f"published-{uuid.uuid4().hex[:8]}.duckdb")
        try:
            write_catalog(
                self.build_path,
                catalog,
                {name: self._uris(mart) for name, mart in manifest["marts"].items()},
                self._secret(),
            )
            self.store.put_file(catalog, PUBLISHED)  # a rename on a local lake
        finally:
            catalog.unlink(missing_ok=True)
        self.collect(keep_for)
        return self.published_uri

    def _uris(self, mart: dict) -> list[str]:
        return [self.store.uri(part["path"]) for part in mart["parts"].values()]

    def _secret(self) -> str | None:
        """On S3: the statement that lets DuckDB read the lake (httpfs, credentials)."""
        if not self.store.is_s3:
            return None
        return s3_secret_sql(self.store.endpoint)

    def collect(self, keep_for: float = RETIRED_KEPT_S) -> list[str]:
        """Remove the Parquet files no catalog has read for ``keep_for`` seconds: the parts a
        later build replaced, and what a killed build stored without publishing it. Returns
        their paths."""
        manifest = self._manifest()
        current = {part["path"] for mart in manifest["marts"].values() for part in mart["parts"].values()}
        cutoff = time.time() - keep_for
        removed = []
        for f in self.store.list_files(OBJECTS, "*.parquet", recursive=True):
            if f.path in current:
                continue
            since = manifest["retired"].get(f.path, f.mtime.timestamp() if f.mtime else 0)
            if since < cutoff:
                self.store.delete(f.path)
                removed.append(f.path)
        if removed:
            manifest["retired"] = {p: t for p, t in manifest["retired"].items() if p not in removed}
            self.store.write_bytes(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        return sorted(removed)


def _pieces(path: Path) -> Iterator[bytes]:
    """A DuckDB file as its headers, then its blocks, one at a time (:data:`BLOCK_BYTES`)."""
    with open(path, "rb") as f:
        size = HEADER_BYTES
        while data := f.read(size):
            yield data
            size = BLOCK_BYTES


def _part_rows(con: duckdb.DuckDBPyConnection, table: str, day_column: str | None) -> dict[str, int]:
    """A mart's rows by part: by day (``YYYY-MM-DD``, or ``null``) for a daily mart, else all."""
    if not day_column:
        return {ALL: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]}
    day = f"coalesce(strftime({ident(day_column)}, '%Y-%m-%d'), {sql_string(NULL_DAY)})"
    rows = dict(con.execute(f"SELECT {day} AS day, count(*) FROM {table} GROUP BY ALL ORDER BY day").fetchall())
    return rows or {ALL: 0}  # no day at all: one empty file still tells the mart's columns


def s3_secret_sql(endpoint) -> str:
    """``LOAD httpfs`` and an S3 secret from the standard AWS chain, for DuckDB to read the lake."""
    credentials = _s3_credentials()
    options = {
        "KEY_ID": credentials["DBT_S3_KEY_ID"],
        "SECRET": credentials["DBT_S3_SECRET"],
        "SESSION_TOKEN": credentials["DBT_S3_SESSION_TOKEN"],
        "REGION": endpoint.region or "us-east-1",
    }
    if endpoint.host:
        options.update(
            ENDPOINT=endpoint.host, URL_STYLE="path", USE_SSL="true" if endpoint.scheme == "https" else "false"
        )
    spelled = ", ".join(f"{key} {sql_string(value)}" for key, value in options.items())
    return f"LOAD httpfs; CREATE OR REPLACE SECRET (TYPE s3, {spelled})"


def write_catalog(build: Path, target: Path, marts: dict[str, list[str]], secret: str | None = None) -> None:
    """A new DuckDB file at ``target``: schema ``marts``, a view per mart over its Parquet files
    (``{mart: [uri]}``), with the build's table and column comments. ``secret``: what lets
    DuckDB read the files (on S3), run before the views are made and not kept in the file."""
    schema = ident(MARTS_SCHEMA)
    with duckdb.connect(str(target)) as con:
        if secret:
            con.execute(secret)
        con.execute(f"ATTACH {sql_string(str(build))} AS build (READ_ONLY)")
        tables = dict(
            con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = 'build' "
                f"AND schema_name = {sql_string(MARTS_SCHEMA)}"
            ).fetchall()
        )
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = 'build' "
            f"AND schema_name = {sql_string(MARTS_SCHEMA)} AND comment IS NOT NULL ORDER BY table_name, column_index"
        ).fetchall()
        con.execute("DETACH build")
        con.execute("BEGIN")
        con.execute(f"CREATE SCHEMA {schema}")
        for name in sorted(marts):
            files = ", ".join(sql_string(uri) for uri in marts[name])
            con.execute(f"CREATE VIEW {schema}.{ident(name)} AS SELECT * FROM read_parquet([{files}])")
            if tables.get(name) is not None:
                con.execute(f"COMMENT ON VIEW {schema}.{ident(name)} IS {sql_string(tables[name])}")
        for table, column, comment in columns:
            if table in marts:
                con.execute(f"COMMENT ON COLUMN {schema}.{ident(table)}.{ident(column)} IS {sql_string(comment)}")
        con.execute("COMMIT")
