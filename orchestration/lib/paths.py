"""The project's fixed places on disk, defined once."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_ROOT = PACKAGE_DIR.parent
SOURCES_FILE = Path(__file__).resolve().parent / "sources.yaml"
DEFAULT_LAKE_DIR = PROJECT_ROOT / "lake"
TRANSFORMS_DIR = PROJECT_ROOT / "transforms"
# the code location as the UI and the daemon load it, named `supplyloop`
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
