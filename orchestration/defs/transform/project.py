"""The dbt project as Dagster sees it: where it is, and its manifest (parsed when out of date)."""

import hashlib
import shutil
import sys
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dbt.version import __version__ as DBT_VERSION
from packaging import version

from orchestration.lib.paths import TRANSFORMS_DIR

transforms = DbtProject(project_dir=TRANSFORMS_DIR, profiles_dir=TRANSFORMS_DIR)
# the dbt installed beside this Python, so an un-activated virtual environment works too
DBT_EXECUTABLE = (
    str(Path(sys.executable).with_name("dbt"))
    if Path(sys.executable).with_name("dbt").exists()
    else (shutil.which("dbt") or "dbt")
)


class LocalDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource for the dbt installed in this environment.

    Two start-up steps of dagster-dbt are skipped, about 5 s of every build on a 2-core machine:
    it asks the executable for its version in a subprocess (``dbt --version``, 3 s), where the
    executable here is the installed dbt-core whose version Python already knows; and it opens
    an in-process dbt adapter (2 s), which serves only ``fetch_row_counts`` and
    ``fetch_column_metadata``; the warehouse reports row counts itself.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(DBT_VERSION)

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 (dagster-dbt's signature)
        return None


def dbt_cli() -> DbtCliResource:
    return LocalDbtCli(project_dir=transforms, dbt_executable=DBT_EXECUTABLE)


def _project_files(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in TRANSFORMS_DIR.glob(pattern) if p.is_file())


def _stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    # everything dbt parses: models, macros, data tests and the project's settings
    files = _project_files("models/**/*", "macros/**/*", "tests/**/*", "*.yml")
    return any(p.stat().st_mtime > built for p in files)


def models_fingerprint() -> str:
    """A digest of the dbt project's files: a build with other models than the last one is full."""
    digest = hashlib.sha256()
    # not the singular data tests nor profiles.yml: they do not change what a build computes
    for path in _project_files("models/**/*", "macros/**/*", "dbt_project.yml"):
        digest.update(path.relative_to(TRANSFORMS_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_manifest() -> Path:
    """The manifest Dagster builds its asset graph from; ``dbt parse`` (reads no data) when stale."""
    if _stale(transforms.manifest_path):
        dbt_cli().cli(["parse", "--quiet"], target_path=transforms.manifest_path.parent).wait()
    return transforms.manifest_path
