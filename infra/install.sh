#!/usr/bin/env bash
# The one install path: `make`, CI and the container image all run this script.
#   infra/install.sh [VENV_DIR] [EXTRAS]     defaults: .venv and "test"
# Extras: test (the suite), infra (the AWS stack as code, plus the template scanners in
# VENV_DIR/scanners), cloud (what the container image adds). The image runs it with "cloud".
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${1:-.venv}"
extras="${2:-test}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "install: Python 3.11 is required, found $("$python" --version 2>&1) at $python; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "install: creating $venv with $python" >&2
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
spec="."
[[ -n "$extras" ]] && spec=".[${extras}]"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
# DuckDB cannot download extensions at run time; install httpfs (s3://) from its PyPI package.
"$venv/bin/python" -c "from duckdb_extensions import import_extension; import_extension('httpfs')"
# The template scanners pin libraries below the project's pins: their own environment.
if [[ ",$extras," == *",infra,"* ]]; then
  [[ -x "$venv/scanners/bin/python" ]] || "$python" -m venv "$venv/scanners"
  "$venv/scanners/bin/python" -m pip install --quiet --disable-pip-version-check -r infra/scanners.txt
fi
echo "install: ready ($venv)" >&2
