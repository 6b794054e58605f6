"""Superset's settings for `make bi` (read through SUPERSET_CONFIG_PATH, set by serve.py).

Nothing here is a secret and nothing here is state: the metadata database (SQLite), the
secret key and the logs live in the state folder ``$SUPPLYLOOP_BI_STATE`` (default
``.state/superset``, gitignored), never in the lake and never in the repository.
"""

import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

_STATE = Path(os.environ["SUPPLYLOOP_BI_STATE"])

SECRET_KEY = (_STATE / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_STATE / 'superset.db'}?check_same_thread=false"
SQLALCHEMY_EXAMPLES_URI = f"sqlite:///{_STATE / 'examples.db'}?check_same_thread=false"
DATA_DIR = str(_STATE)

APP_NAME = "supplyloop"
# a planner's dashboard, not a public site: nothing is sent anywhere, no example data
SHOW_STACKTRACE = False
FAB_API_SWAGGER_UI = False
# the warehouse is rebuilt by every `make run`: query it each time (the charts' queries are small)
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
SUPERSET_WEBSERVER_TIMEOUT = 120
LOG_LEVEL = "WARNING"

# Nothing leaves the machine: pages load only from Superset itself. This also blocks the usage
# pixel Superset's page would fetch from an outside host on every visit.
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}


# The warehouse is a catalog of views over the lake's Parquet files (warehouse/ beside it):
# each DuckDB connection may read those files and nothing else on the machine. DuckDB takes
# the folder only once it runs, so it is set here, then file access closed and the settings
# locked; the database's URI opens the catalog read-only.
_READABLE = os.environ.get("SUPPLYLOOP_BI_READABLE", "")


@event.listens_for(Engine, "connect")
def _lake_files_only(dbapi_connection, _record) -> None:
    if not type(dbapi_connection).__module__.startswith("duckdb"):
        return
    # the settings are the database's, shared by every connection to the same file: a later
    # connection, or one made at the same moment on another thread, finds them locked
    locked = "SELECT current_setting('lock_configuration') AND NOT current_setting('enable_external_access')"
    if dbapi_connection.execute(locked).fetchone()[0]:
        return
    folder = "'" + _READABLE.replace("'", "''") + "'"
    try:
        dbapi_connection.execute(
            f"SET allowed_directories = [{folder}]; SET enable_external_access = false; SET lock_configuration = true"
            if _READABLE
            else "SET enable_external_access = false; SET lock_configuration = true"
        )
    except Exception:  # another thread closed it first (and locks it): file access is closed
        if dbapi_connection.execute("SELECT current_setting('enable_external_access')").fetchone()[0]:
            raise
