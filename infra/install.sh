#!/usr/bin/env bash
# The one install path: `make`, CI and the container image all run this script.
#   infra/install.sh [VENV_DIR] [EXTRAS]     defaults: .venv and "base"
# Extras, comma-separated, each added on top of what the venv already holds:
#   base   the local loop alone (`make run`, `make ui`): no extra
#   test   the suite and its tools (pytest, moto's S3 server, ruff, dbt-athena, dbt-spark)
#   infra  the AWS stack as code (aws-cdk-lib, an embedded Postgres), plus the template
#          scanners in VENV_DIR/scanners
#   cloud  what the container image adds: the Dagster instance's Postgres storage
#   bench  `make bench`'s forecast comparison: statsforecast and what it needs
#   spark  the marts on Apache Spark (dbt-spark's session method, pyspark; Java 17)
# uv installs when it can (PyPI's `uv`, put into the venv): a cold install of the base takes
# seconds instead of about two minutes with pip. SUPPLYLOOP_INSTALLER=pip uses pip alone;
# pip is also the fallback when uv cannot be had or fails. PIP_NO_CACHE_DIR=1 leaves no
# download cache with either.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${1:-.venv}"
extras="${2:-base}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
UV_VERSION="0.13.9"

say() { echo "install: $*" >&2; }

if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  say "Python 3.11 is required, found $("$python" --version 2>&1) at $python; set PYTHON=/path/to/python3.11"
  exit 1
fi

declare -A what=(
  [test]="the test suite (pytest, moto, ruff, dbt-athena, dbt-spark)"
  [infra]="the AWS stack (aws-cdk-lib, embedded Postgres) and its template scanners"
  [cloud]="the cloud instance's Postgres storage (dagster-postgres)"
  [bench]="the forecast benchmark's statistical peers (statsforecast)"
  [spark]="Apache Spark for the marts (dbt-spark, pyspark; needs Java 17)"
)
plan="the local loop (Dagster, dbt-duckdb, DuckDB, pyarrow, Great Expectations)"
# the extras pyproject.toml defines (an unknown one would only be warned about, and skipped)
known="$("$python" -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]))')"
IFS=',' read -ra names <<<"$extras"
extras=""
for name in "${names[@]}"; do
  [[ -z "$name" || "$name" == base ]] && continue
  [[ " $known " == *" $name "* ]] || { say "unknown extra '$name'; use base or ${known// /, }"; exit 2; }
  plan+=" + ${what[$name]:-the $name extra}"
  extras+="${extras:+,}$name"
done

started=$SECONDS
if [[ ! -x "$venv/bin/python" ]]; then
  say "creating $venv with $python"
  "$python" -m venv "$venv"
fi

uv_flags=(--compile-bytecode)
case "${PIP_NO_CACHE_DIR:-}" in "" | 0 | false | no | off) ;; *) uv_flags+=(--no-cache) ;; esac

installer="${SUPPLYLOOP_INSTALLER:-uv}"
if [[ "$installer" == uv && ! -x "$venv/bin/uv" ]]; then
  say "getting uv $UV_VERSION, the fast installer, into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" || {
    say "uv could not be installed: pip installs instead"
    installer=pip
  }
fi

# pip without --quiet, so its minutes show, less the lines for what is there already
pip_install() {
  "$1" -m pip install --disable-pip-version-check "${@:2}" | awk '!/^Requirement already satisfied/ { print; fflush() }'
}

# install_into PYTHON ARGS...: with uv, falling back to pip
install_into() {
  local target="$1"
  shift
  if [[ "$installer" == uv ]]; then
    # uv's summary lines (resolved, downloading, installed), not one line per package
    if "$venv/bin/uv" pip install "${uv_flags[@]}" --python "$target" "$@" 2>&1 | awk '!/^ [-+~] / { print; fflush() }'; then
      return 0
    fi
    say "uv failed: trying pip"
  fi
  pip_install "$target" "$@"
}

spec="."
[[ -n "$extras" ]] && spec=".[${extras}]"
if [[ "$installer" == uv ]]; then
  say "$plan into $venv with uv (cold: under a minute)"
else
  say "$plan into $venv with pip (cold: two minutes or more for the local loop alone)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
install_into "$venv/bin/python" -e "$spec"
# DuckDB cannot download extensions at run time; install httpfs (s3://) from its PyPI package.
"$venv/bin/python" -c "from duckdb_extensions import import_extension; import_extension('httpfs')"
# The template scanners pin libraries below the project's pins: their own environment.
if [[ ",$extras," == *",infra,"* ]]; then
  say "the template scanners (cfn-lint, checkov) into $venv/scanners"
  [[ -x "$venv/scanners/bin/python" ]] || "$python" -m venv "$venv/scanners"
  install_into "$venv/scanners/bin/python" -r infra/scanners.txt
fi
say "ready ($venv: ${extras:-base}) in $((SECONDS - started)) s"
