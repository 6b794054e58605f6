"""The lake: one storage abstraction for a local folder and an ``s3://bucket/prefix``.

Every read and write of the project goes through :class:`LakeStore`, so the code that
ingests, transforms and publishes never knows which of the two it runs on. Paths handed
to it are relative to the lake root and always use ``/``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from orchestration.lib.settings import LAKE_ROOT_ENV, LANDING_ROOT_ENV, S3Endpoint, lake_root, landing_root, s3_endpoint

LANDING = "landing"
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


@dataclass(frozen=True)
class LakeFile:
    """A file in the lake: its path relative to the root, size and last change."""

    path: str
    size: int
    mtime: datetime | None

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

    def __init__(self, root: str | None = None, endpoint: S3Endpoint | None = None, landing: str | None = None):
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

    def list_files(self, rel_dir: str, pattern: str = "*", recursive: bool = False) -> list[LakeFile]:
        """Files directly in ``rel_dir`` (or below it) whose name matches ``pattern``.

        Temporary files of unfinished writes (names starting with ``.``) and folder
        markers never show up. A missing folder is an empty list.
        """
        selector = pafs.FileSelector(self.fs_path(rel_dir), allow_not_found=True, recursive=recursive)
        found = []
        for info in self.fs.get_file_info(selector):
            name = info.base_name
            if info.type != pafs.FileType.File or name.startswith(".") or not fnmatch.fnmatch(name, pattern):
                continue
            found.append(LakeFile(self._rel(info.path), info.size or 0, info.mtime))
        return sorted(found, key=lambda f: f.path)

    def list_dirs(self, rel_dir: str) -> list[str]:
        selector = pafs.FileSelector(self.fs_path(rel_dir), allow_not_found=True)
        return sorted(
            info.base_name
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.Directory and not info.base_name.startswith(".")
        )

    def open_input(self, rel: str) -> pa.NativeFile:
        return self.fs.open_input_file(self.fs_path(rel))

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
        tmp = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}"
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
