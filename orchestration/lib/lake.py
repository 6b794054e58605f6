"""The lake: one storage abstraction for a local folder and an ``s3://bucket/prefix``.

Every read and write of the project goes through :class:`LakeStore`, so the code that
ingests, transforms and publishes never knows which of the two it runs on. Paths handed
to it are relative to the lake root and always use ``/``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from orchestration.lib.settings import LAKE_ROOT_ENV, LANDING_ROOT_ENV, S3Endpoint, lake_root, landing_root, s3_endpoint

LANDING = "landing"
TMP_MARK = ".tmp-"  # in the hidden name of a file being written: .<name>.tmp-<id>
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STALE_AFTER_S = 3600  # a temporary file this old belongs to a writer that was killed
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, row_group_size=256 * 1024)


def s3_filesystem(endpoint: S3Endpoint | None = None) -> pafs.S3FileSystem:
    """S3 (or the S3-compatible store the standard AWS variables name), credentials from the AWS chain."""
    endpoint = endpoint or s3_endpoint()
    return pafs.S3FileSystem(
        endpoint_override=endpoint.host,
        scheme=endpoint.scheme,
        region=endpoint.region or "us-east-1",
        allow_bucket_creation=False,
    )


def read_text(where: str | Path) -> str:
    """A small UTF-8 file, local or ``s3://bucket/key`` (a configuration file, say)."""
    text = str(where)
    if text.startswith("s3://"):
        with s3_filesystem().open_input_stream(text[len("s3://") :]) as f:
            return f.read().decode("utf-8")
    return Path(where).read_text(encoding="utf-8")


def name_matches(name: str, pattern: str) -> bool:
    """Whether a file name matches a source's ``files`` pattern: a glob, case-insensitive on
    the whole name (``ORDERS_2026-11-11.CSV`` matches ``orders_*.csv``), on every platform."""
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


@dataclass(frozen=True)
class LakeFile:
    """A file in the lake: its path relative to the root, size and last change.

    ``refused`` says why a landing file is never opened (a link that leads out of the
    landing zone); its size and time are the link's own.
    """

    path: str
    size: int
    mtime: datetime | None
    refused: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def version(self) -> str:
        """A cheap fingerprint of this delivery: changes when the file is replaced."""
        stamp = self.mtime.timestamp() if self.mtime else 0
        return f"{self.size}:{stamp:.0f}"


class LakeStore:
    """Files under a lake root, local or on S3, through :mod:`pyarrow.fs`."""

    def __init__(
        self,
        root: str | None = None,
        endpoint: S3Endpoint | None = None,
        landing: str | None = None,
        links_into: tuple[str, ...] = (),
    ):
        """``links_into``: local folders outside the landing zone that links in it may lead to
        (the onboarding dry run links the delivered files in); every other link is refused."""
        self.root = (root or lake_root()).rstrip("/")
        # the landing zone may live elsewhere (``$LANDING_ROOT``, e.g. the bucket deliveries are
        # uploaded to); ``landing/...`` paths then resolve there, every other path in the lake
        self.landing_root = (landing or landing_root() or f"{self.root}/{LANDING}").rstrip("/")
        if self.landing_root.startswith("s3://") != self.root.startswith("s3://"):
            raise ValueError(
                f"the landing zone {self.landing_root} and the lake {self.root} must both be on S3 or both be "
                f"local folders: set {LANDING_ROOT_ENV} to match {LAKE_ROOT_ENV}"
            )
        if self.root.startswith("s3://"):
            endpoint = endpoint or s3_endpoint()
            self.fs: pafs.FileSystem = s3_filesystem(endpoint)
            self._base = self.root[len("s3://") :]
            self._landing_base = self.landing_root[len("s3://") :]
            self.endpoint = endpoint
        else:
            self.fs = pafs.LocalFileSystem()
            self._base = str(Path(self.root).expanduser().resolve())
            self._landing_base = str(Path(self.landing_root).expanduser().resolve())
            self.endpoint = None
        self._links_into = tuple(str(Path(p).resolve()) for p in links_into)

    @property
    def is_s3(self) -> bool:
        return self.endpoint is not None

    def __repr__(self) -> str:
        return f"LakeStore({self.root!r})"

    # -- naming ---------------------------------------------------------------
    def fs_path(self, rel: str) -> str:
        """The path of ``rel`` inside :attr:`fs`."""
        return self._join(rel, self._base, self._landing_base)

    def uri(self, rel: str = "") -> str:
        """A URI any engine understands: ``s3://...`` or an absolute local path."""
        return self._join(rel, self.root, self.landing_root)

    @staticmethod
    def _join(rel: str, base: str, landing_base: str) -> str:
        rel = rel.strip("/")
        if ".." in rel.split("/"):
            raise ValueError(f"{rel!r} climbs out of its folder (..); lake paths stay below the lake root")
        if rel == LANDING or rel.startswith(f"{LANDING}/"):
            base, rel = landing_base, rel[len(LANDING) :].lstrip("/")
        return f"{base}/{rel}" if rel else base

    def _rel(self, fs_path: str) -> str:
        if fs_path == self._landing_base or fs_path.startswith(f"{self._landing_base}/"):
            return f"{LANDING}/{fs_path[len(self._landing_base) :].lstrip('/')}".rstrip("/")
        return fs_path[len(self._base) :].lstrip("/")

    # -- reading --------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.fs_path(rel)).type != pafs.FileType.NotFound

    def list_files(
        self, rel_dir: str, pattern: str = "*", recursive: bool = False, hidden: bool = False
    ) -> list[LakeFile]:
        """Files directly in ``rel_dir`` (or below it) whose name matches ``pattern``
        (:func:`name_matches`: case-insensitive).

        Hidden files (names starting with ``.``: temporary files of unfinished writes) show
        up only when ``hidden``; folder markers never. A missing folder is an empty list. In
        a local landing zone, a link that leads out of it (or to nothing) is listed with
        ``refused`` set, never followed (:meth:`_landing_entries`).
        """
        top = self.fs_path(rel_dir)
        if not self.is_s3 and self._rel(top).split("/")[0] == LANDING:
            entries = self._landing_entries(top, recursive)
        else:
            selector = pafs.FileSelector(top, allow_not_found=True, recursive=recursive)
            entries = (
                (info.path, info.size or 0, info.mtime, None)
                for info in self.fs.get_file_info(selector)
                if info.type == pafs.FileType.File
            )
        found = []
        for path, size, mtime, refused in entries:
            name = path.rsplit("/", 1)[-1]
            if (name.startswith(".") and not hidden) or not name_matches(name, pattern):
                continue
            found.append(LakeFile(self._rel(path), size, mtime, refused))
        return sorted(found, key=lambda f: f.path)

    def _landing_entries(self, top: str, recursive: bool) -> Iterator[tuple[str, int, datetime, str | None]]:
        """(path, size, mtime, refused) of each file below ``top``, on the local disk.

        Links are not followed blindly: one whose target lies inside the landing zone (or a
        folder of ``links_into``) is read as that file; one that leads anywhere else, or to
        nothing, is reported as refused, with the link's own size and time, and never opened.
        A folder that is a link is not descended into.
        """
        outside = self._leaves_landing(top) if os.path.lexists(top) else None
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                link = entry.is_symlink()
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        stack.append(entry.path)
                    continue
                if not link and not entry.is_file(follow_symlinks=False):
                    continue  # a socket, a pipe, a device: not a delivery
                refused = self._leaves_landing(entry.path) if link else outside
                if refused is None and link and not entry.is_file():
                    if entry.is_dir():
                        continue  # a link to a folder inside the zone: its files are listed where they are
                    refused = "a link to nothing (its target does not exist)"
                stat = entry.stat(follow_symlinks=refused is None)
                mtime = EPOCH + timedelta(microseconds=stat.st_mtime_ns // 1000)
                yield entry.path, stat.st_size, mtime, refused

    def _leaves_landing(self, path: str) -> str | None:
        """Why a local landing path may not be read (its real place lies outside the zone), or None."""
        real = os.path.realpath(path)
        if not os.path.exists(real):
            return "a link to nothing (its target does not exist)"
        for base in (self._landing_base, *self._links_into):
            if real == base or real.startswith(f"{base}/"):
                return None
        return "a link that leads outside the landing zone"

    def list_dirs(self, rel_dir: str) -> list[str]:
        selector = pafs.FileSelector(self.fs_path(rel_dir), allow_not_found=True)
        return sorted(
            info.base_name
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.Directory and not info.base_name.startswith(".")
        )

    def open_input(self, rel: str) -> pa.NativeFile:
        return self.fs.open_input_file(self.fs_path(rel))

    def parquet_metadata(self, rel: str) -> pq.FileMetaData:
        """A Parquet file's footer (rows, schema, key-value metadata), without reading its data."""
        with self.open_input(rel) as f:
            return pq.ParquetFile(f).metadata

    def read_bytes(self, rel: str) -> bytes:
        with self.open_input(rel) as f:
            return f.read()

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file, or every Parquet file below a folder, as one table."""
        info = self.fs.get_file_info(self.fs_path(rel))
        if info.type == pafs.FileType.File:
            return pq.read_table(self.fs_path(rel), columns=columns, filesystem=self.fs)
        files = [f.path for f in self.list_files(rel, "*.parquet", recursive=True)]
        if not files:
            raise FileNotFoundError(f"no Parquet files under {self.uri(rel)}")
        return pa.concat_tables(pq.read_table(self.fs_path(p), columns=columns, filesystem=self.fs) for p in files)

    # -- writing --------------------------------------------------------------
    @contextmanager
    def atomic_output(self, rel: str) -> Iterator[pa.NativeFile]:
        """A stream whose content appears at ``rel`` all at once, or not at all.

        Bytes go to a hidden sibling first and are moved into place only when the block
        ends without error: a rename on a local disk, a single server-side copy on S3.
        Readers see the old file or the new one, never a half-written one. Writing the
        same bytes again leaves the old file untouched, so a re-run that changes nothing
        does not look like new data downstream.
        """
        final = self.fs_path(rel)
        parent, name = final.rsplit("/", 1)
        tmp = f"{parent}/.{name}{TMP_MARK}{uuid.uuid4().hex[:12]}"
        if not self.is_s3:
            self.fs.create_dir(parent, recursive=True)
        stream = self.fs.open_output_stream(tmp)
        try:
            yield stream
            stream.close()
            if self._same_content(tmp, final):
                self._delete_quietly(tmp)  # unchanged: keep the file, and its timestamp, as it is
            else:
                self.fs.move(tmp, final)
        except BaseException:
            if not stream.closed:
                stream.close()
            self._delete_quietly(tmp)
            raise

    def put_file(self, local_path: str | Path, rel: str) -> None:
        """Move a finished local file to ``rel``, atomically: a rename when the lake is the
        same local disk, else a streamed copy through :meth:`atomic_output`."""
        local_path = Path(local_path)
        if not self.is_s3:
            final = Path(self.fs_path(rel))
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                local_path.replace(final)
                return
            except OSError:  # another file system: copy instead
                pass
        with open(local_path, "rb") as src, self.atomic_output(rel) as out:
            while chunk := src.read(8 << 20):
                out.write(chunk)
        local_path.unlink()

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.atomic_output(rel) as out:
            out.write(data)

    def put_new(self, rel: str, data: bytes) -> None:
        """Write a file that is new under its name (named by its content, say), all at once.

        On S3 a single PUT, with no temporary object to copy and delete: S3 shows an object
        only once it is whole. Locally through :meth:`atomic_output`.
        """
        if not self.is_s3:
            self.write_bytes(rel, data)
            return
        with self.fs.open_output_stream(self.fs_path(rel)) as out:
            out.write(data)

    @contextmanager
    def parquet_writer(self, rel: str, schema: pa.Schema) -> Iterator[ParquetSink]:
        """A Parquet file written batch by batch and published atomically when the block ends."""
        with self.atomic_output(rel) as out:
            with pq.ParquetWriter(
                out,
                schema,
                compression=PARQUET_OPTIONS["compression"],
                compression_level=PARQUET_OPTIONS["compression_level"],
            ) as writer:
                yield ParquetSink(writer)

    def write_parquet(
        self,
        rel: str,
        batches: pa.Table | Iterable[pa.RecordBatch],
        schema: pa.Schema | None = None,
    ) -> int:
        """Write a table or a stream of batches as one Parquet file, atomically.

        Returns the number of rows written. Batches are written as they come, so memory
        stays at one batch (plus a row group) whatever the file's size.
        """
        if isinstance(batches, pa.Table):
            schema = schema or batches.schema
            batches = batches.to_batches(max_chunksize=PARQUET_OPTIONS["row_group_size"])
        if schema is None:
            raise ValueError("write_parquet needs a schema when given a stream of batches")
        with self.parquet_writer(rel, schema) as sink:
            for batch in batches:
                sink.write(batch)
        return sink.rows

    def sweep_temporaries(self, rel_dir: str, older_than: float | None = None) -> list[str]:
        """Remove what killed writers left in ``rel_dir``: hidden ``.<name>.tmp-<id>`` files of
        :meth:`atomic_output` last changed more than ``older_than`` seconds ago (default
        :data:`STALE_AFTER_S`, an hour). A live writer's
        file is younger (a local one grows as it is written; on S3 it appears only once complete
        and is moved at once), so it is never touched. Returns the names removed."""
        selector = pafs.FileSelector(self.fs_path(rel_dir), allow_not_found=True)
        cutoff = time.time() - (STALE_AFTER_S if older_than is None else older_than)
        removed = []
        for info in self.fs.get_file_info(selector):
            name = info.base_name
            if info.type != pafs.FileType.File or not name.startswith(".") or TMP_MARK not in name:
                continue
            if info.mtime is not None and info.mtime.timestamp() < cutoff:
                self._delete_quietly(info.path)
                removed.append(name)
        return sorted(removed)

    def delete(self, rel: str) -> bool:
        """Remove a file if it is there; True when something was removed."""
        if not self.exists(rel):
            return False
        self.fs.delete_file(self.fs_path(rel))
        return True

    def delete_dir(self, rel: str) -> None:
        if self.exists(rel):
            self.fs.delete_dir(self.fs_path(rel))

    def sha256(self, rel: str) -> str:
        """The SHA-256 of a file, read in chunks."""
        return self._digest(self.fs_path(rel))

    def _same_content(self, a: str, b: str) -> bool:
        size_a, size_b = (self.fs.get_file_info(p) for p in (a, b))
        if size_b.type != pafs.FileType.File or size_a.size != size_b.size:
            return False
        return self._digest(a) == self._digest(b)

    def _digest(self, fs_path: str) -> str:
        digest = hashlib.sha256()
        with self.fs.open_input_stream(fs_path) as f:
            while chunk := f.read(8 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def _delete_quietly(self, fs_path: str) -> None:
        try:
            self.fs.delete_file(fs_path)
        except OSError:
            pass


class ParquetSink:
    """Counts what goes into a :class:`pyarrow.parquet.ParquetWriter`."""

    def __init__(self, writer: pq.ParquetWriter):
        self._writer = writer
        self.rows = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if batch.num_rows:
            self._writer.write(batch, row_group_size=PARQUET_OPTIONS["row_group_size"])
            self.rows += batch.num_rows

    def add_metadata(self, values: dict[str, str]) -> None:
        """Key-value pairs in the file's footer: read back with the row count, without the rows."""
        self._writer.add_key_value_metadata(values)
