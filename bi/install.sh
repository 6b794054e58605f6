#!/usr/bin/env bash
# Apache Superset for `make bi` and its test, in a virtual environment of its own:
#   bi/install.sh [VENV_DIR]     default: .venv-bi
# Superset pins Flask, SQLAlchemy and pandas below the project's, so it never shares .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${1:-.venv-bi}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "bi install: Python 3.11 is required, found $("$python" --version 2>&1) at $python; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "bi install: creating $venv with $python (Apache Superset, about 80 s the first time)" >&2
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r bi/requirements.txt
echo "bi install: ready ($venv)" >&2
