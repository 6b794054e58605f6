"""Superset's settings for `make bi` (read through SUPERSET_CONFIG_PATH, set by serve.py).

Nothing here is a secret and nothing here is state: the metadata database (SQLite), the
secret key and the logs live in the state folder ``$SUPPLYLOOP_BI_STATE`` (default
``.state/superset``, gitignored), never in the lake and never in the repository.
"""

import os
from pathlib import Path

_STATE = Path(os.environ["SUPPLYLOOP_BI_STATE"])

SECRET_KEY = (_STATE / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_STATE / 'superset.db'}?check_same_thread=false"
SQLALCHEMY_EXAMPLES_URI = f"sqlite:///{_STATE / 'examples.db'}?check_same_thread=false"
DATA_DIR = str(_STATE)

APP_NAME = "supplyloop"
# a planner's dashboard, not a public site: nothing is sent anywhere, no example data
SHOW_STACKTRACE = False
FAB_API_SWAGGER_UI = False
# the warehouse is rebuilt by every `make run`: query it each time (charts are small)
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
# answers in a second on the demo; the small preset's biggest chart query takes ~0.3 s
SUPERSET_WEBSERVER_TIMEOUT = 120
LOG_LEVEL = "WARNING"
