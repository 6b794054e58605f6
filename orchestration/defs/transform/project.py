"""The dbt project as Dagster sees it: where it is, and its manifest (parsed when out of date)."""

import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.lib.paths import TRANSFORMS_DIR

transforms = DbtProject(project_dir=TRANSFORMS_DIR, profiles_dir=TRANSFORMS_DIR)
# the dbt installed beside this Python, so an un-activated virtual environment works too
DBT_EXECUTABLE = (
    str(Path(sys.executable).with_name("dbt"))
    if Path(sys.executable).with_name("dbt").exists()
    else (shutil.which("dbt") or "dbt")
)


def dbt_cli() -> DbtCliResource:
    return DbtCliResource(project_dir=transforms, dbt_executable=DBT_EXECUTABLE)


def _stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    files = (
        p for pattern in ("models/**/*", "macros/**/*", "tests/**/*", "*.yml") for p in TRANSFORMS_DIR.glob(pattern)
    )
    return any(p.is_file() and p.stat().st_mtime > built for p in files)


def ensure_manifest() -> Path:
    """The manifest Dagster builds its asset graph from; ``dbt parse`` (reads no data) when stale."""
    if _stale(transforms.manifest_path):
        dbt_cli().cli(["parse", "--quiet"], target_path=transforms.manifest_path.parent).wait()
    return transforms.manifest_path
