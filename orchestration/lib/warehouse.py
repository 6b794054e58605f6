"""The warehouse: the DuckDB file dbt builds, published for BI tools, and the marts as Parquet.

dbt builds into a private *build* file; BI tools read the *published* copy at
``<lake>/warehouse.duckdb``. Publishing replaces that file in one step (a rename locally,
one upload on S3), so a reader that has the old file open keeps reading it and a new
reader gets the new one: a build never breaks a reader, and readers never block a build.
Each mart is also written to ``<lake>/marts/<mart>/part-0.parquet`` for any engine.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import PROJECT_ROOT

PUBLISHED = "warehouse.duckdb"
MARTS_SCHEMA = "marts"


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


def state_dir() -> Path:
    """Where a machine keeps its working build of the warehouse (``$SUPPLYLOOP_STATE``)."""
    return Path(os.environ.get("SUPPLYLOOP_STATE") or PROJECT_ROOT / ".state")


@dataclass(frozen=True)
class Warehouse:
    """The build and published locations of the warehouse for one lake."""

    store: LakeStore

    @property
    def build_path(self) -> Path:
        if self.store.is_s3:
            return state_dir() / "warehouse-build.duckdb"
        return Path(self.store.fs_path(".build")) / "warehouse.duckdb"

    @property
    def published_uri(self) -> str:
        return self.store.uri(PUBLISHED)

    def dbt_env(self) -> dict[str, str]:
        """The environment transforms/profiles.yml reads: where the lake and the build are."""
        env = {
            "LAKE_ROOT": self.store.root if self.store.is_s3 else self.store.fs_path(""),
            "WAREHOUSE_PATH": str(self.build_path),
            "DBT_TARGET": "s3" if self.store.is_s3 else "local",
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

    def prepare(self) -> None:
        """Start the build from the published warehouse when this machine has no build yet."""
        self.build_path.parent.mkdir(parents=True, exist_ok=True)
        if self.build_path.exists() or not self.store.exists(PUBLISHED):
            return
        with self.store.open_input(PUBLISHED) as src, open(self.build_path, "wb") as dst:
            shutil.copyfileobj(src, dst, length=8 << 20)

    def marts(self) -> list[str]:
        with duckdb.connect(str(self.build_path), read_only=True) as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' "
                "ORDER BY table_name",
                [MARTS_SCHEMA],
            ).fetchall()
        return [r[0] for r in rows]

    def export_marts(self, names: list[str] | None = None, batch_rows: int = 256 * 1024) -> dict[str, int]:
        """Write each mart to ``marts/<mart>/part-0.parquet`` in the lake; rows per mart."""
        written = {}
        names = self.marts() if names is None else names
        with duckdb.connect(str(self.build_path), read_only=True) as con:
            for name in names:
                reader = con.execute(f'SELECT * FROM {MARTS_SCHEMA}."{name}"').to_arrow_reader(batch_rows)
                written[name] = self.store.write_parquet(f"marts/{name}/part-0.parquet", reader, schema=reader.schema)
        return written

    def publish(self) -> str:
        """Replace the published warehouse with the build in one step; returns its URI."""
        if self.store.is_s3:
            with open(self.build_path, "rb") as src, self.store.atomic_output(PUBLISHED) as out:
                shutil.copyfileobj(src, out, length=8 << 20)
        else:
            target = Path(self.store.fs_path(PUBLISHED))
            staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
            shutil.copyfile(self.build_path, staging)
            os.replace(staging, target)
        return self.published_uri
