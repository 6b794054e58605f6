"""`make bi`: Apache Superset on 127.0.0.1 with the lake's warehouse connected and the planners'
dashboard loaded, until Ctrl-C.

Runs in .venv-bi (bi/install.sh). Each start:

1. checks that every dataset's SQL in ``assets/`` runs on the warehouse and gives the columns
   its YAML lists (a warehouse built by older models fails here, saying what to rebuild);
2. prepares Superset's state folder (metadata database in SQLite, secret key, log): created
   and migrated on the first start, and again when Superset's version changes;
3. starts Superset (gunicorn) on 127.0.0.1 and waits until it answers;
4. imports ``assets/`` (database, datasets, charts, dashboard) through Superset's assets API,
   which overwrites by UUID: a second start duplicates nothing, and an edited YAML replaces
   what the UI shows. The database points at the warehouse given here, read-only.

    serve.py --warehouse lake/warehouse.duckdb --state .state/superset [--port 8088]

The login is admin / admin unless ``SUPPLYLOOP_BI_USER`` / ``SUPPLYLOOP_BI_PASSWORD`` say
otherwise; a password given on a later start replaces the stored one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import duckdb
import requests
import yaml

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "assets"
CONFIG = HERE / "superset_config.py"
BIN = Path(sys.executable).parent
DASHBOARD_SLUG = "supply-planning"
STARTUP_SECONDS = 180


class Stop(Exception):
    """SIGINT or SIGTERM: stop Superset and leave."""


def _stop(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def _say(line: str) -> None:
    print(f"bi: {line}", flush=True)


def load_assets() -> dict[str, dict]:
    """Every YAML file of the bundle, by its path below ``assets/``."""
    return {p.relative_to(ASSETS).as_posix(): yaml.safe_load(p.read_text()) for p in sorted(ASSETS.rglob("*.yaml"))}


def check_warehouse(warehouse: Path, assets: dict[str, dict]) -> None:
    """Run each dataset's SQL on the warehouse (no rows) and compare its columns with the YAML's."""
    if not warehouse.is_file():
        raise SystemExit(f"bi: no warehouse at {warehouse}; build it with `make run` (or set WAREHOUSE or LAKE_ROOT)")
    problems = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, dataset in assets.items():
            if not name.startswith("datasets/"):
                continue
            listed = [c["column_name"] for c in dataset["columns"]]
            try:
                got = [d[0] for d in con.execute(f"SELECT * FROM ({dataset['sql']}) LIMIT 0").description]
            except duckdb.Error as error:
                problems.append(f"{name}: {str(error).splitlines()[0]}")
                continue
            if got != listed:
                problems.append(f"{name}: the SQL gives columns {got}, the YAML lists {listed}")
    if problems:
        raise SystemExit(
            f"bi: the dashboard's datasets do not fit {warehouse}:\n  "
            + "\n  ".join(problems)
            + "\na warehouse built by older models lacks newer columns (e.g. the *_day dates): rebuild it with "
            "`make run`; or fix the dataset's SQL under bi/superset/assets/datasets/"
        )


def bundle(assets: dict[str, dict], warehouse: Path) -> bytes:
    """The assets as the ZIP Superset imports, the database pointed at ``warehouse``."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        for name, content in assets.items():
            if name.startswith("databases/"):
                query = content["sqlalchemy_uri"].partition("?")[2]
                content = {**content, "sqlalchemy_uri": f"duckdb:///{warehouse}" + (f"?{query}" if query else "")}
            zf.writestr(f"supplyloop/{name}", yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    return data.getvalue()


def superset_env(state: Path, warehouse: Path) -> dict[str, str]:
    """Superset's environment: its settings, its state, and the one folder its DuckDB
    connections may read files from, the Parquet the warehouse's views read (``warehouse/``
    beside the catalog; superset_config.py)."""
    return {
        **os.environ,
        "SUPPLYLOOP_BI_READABLE": f"{warehouse.parent / 'warehouse'}/",
        "SUPERSET_CONFIG_PATH": str(CONFIG),
        "SUPPLYLOOP_BI_STATE": str(state),
        "SUPERSET_HOME": str(state),
        "FLASK_APP": "superset.app:create_app()",
    }


def _superset(env: dict[str, str], log: Path, *args: str) -> None:
    with open(log, "a") as out:
        done = subprocess.run([str(BIN / "superset"), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"bi: `superset {args[0]}` failed ({done.returncode}); see {log}\n{_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def prepare_state(state: Path, env: dict[str, str], log: Path, user: str, password: str, password_given: bool) -> None:
    """The metadata database, secret key and admin user, made once per Superset version."""
    state.mkdir(parents=True, exist_ok=True)
    key = state / "secret_key"
    if not key.exists():
        key.touch(mode=0o600)
        key.write_text(secrets.token_urlsafe(48))
    stamp = state / "ready.json"
    ready = json.loads(stamp.read_text()) if stamp.exists() else {}
    superset = version("apache-superset")
    if ready.get("superset") != superset:
        _say(f"preparing Superset {superset}'s metadata database in {state} (once, about a minute)")
        _superset(env, log, "db", "upgrade")
        _superset(env, log, "init")
        ready = {"superset": superset, "users": ready.get("users", [])}
    if user not in ready.get("users", []):
        _superset(env, log, "fab", "create-admin", "--username", user, "--password", password,
                  "--firstname", "Supply", "--lastname", "Planner", "--email", f"{user}@localhost")  # fmt: skip
        ready["users"] = [*ready.get("users", []), user]
    elif password_given:
        _superset(env, log, "fab", "reset-password", "--username", user, "--password", password)
    stamp.write_text(json.dumps(ready))


def start_server(env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    command = [
        str(BIN / "gunicorn"),
        "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--worker-class", "gthread", "--threads", "4",
        "--timeout", "120", "--graceful-timeout", "10",
        "--limit-request-line", "0", "--limit-request-field_size", "0",
        "superset.app:create_app()",
    ]  # fmt: skip
    with open(log, "a") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until_up(server: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"bi: Superset stopped while starting ({server.returncode}); see {log}\n{_tail(log)}")
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit(f"bi: Superset did not answer on {base} within {STARTUP_SECONDS} s; see {log}\n{_tail(log)}")


def import_assets(base: str, user: str, password: str, zipped: bytes, log: Path) -> None:
    """POST the bundle to /api/v1/assets/import/ (overwrites by UUID)."""
    with requests.Session() as http:
        login = http.post(
            f"{base}/api/v1/security/login",
            json={"username": user, "password": password, "provider": "db", "refresh": False},
            timeout=30,
        )
        if login.status_code != 200:
            raise SystemExit(f"bi: Superset refused the login of {user!r} ({login.status_code}): {login.text[:200]}")
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = http.get(f"{base}/api/v1/security/csrf_token/", timeout=30).json()["result"]
        answer = http.post(
            f"{base}/api/v1/assets/import/",
            files={"bundle": ("supplyloop.zip", zipped, "application/zip")},
            headers={"X-CSRFToken": csrf, "Referer": base},
            timeout=120,
        )
        if answer.status_code != 200:
            # Superset answers "Import failed for an unknown reason" and logs which YAML is wrong
            why = [line for line in _tail(log, 200).splitlines() if "validation failed" in line] or [answer.text[:500]]
            raise SystemExit(f"bi: importing bi/superset/assets failed ({answer.status_code}):\n" + "\n".join(why))


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", required=True, help="the DuckDB warehouse file (a local path)")
    parser.add_argument("--state", required=True, help="Superset's state folder (metadata database, secret key, log)")
    parser.add_argument("--port", type=int, default=8088)
    args = parser.parse_args(argv)
    if "://" in args.warehouse:
        raise SystemExit(
            f"bi: {args.warehouse} is not a local file; copy the warehouse down and set WAREHOUSE=/path/warehouse.duckdb"
        )
    warehouse, state = Path(args.warehouse).resolve(), Path(args.state).resolve()
    user = os.environ.get("SUPPLYLOOP_BI_USER") or "admin"
    password_given = bool(os.environ.get("SUPPLYLOOP_BI_PASSWORD"))
    password = os.environ.get("SUPPLYLOOP_BI_PASSWORD") or "admin"
    base = f"http://127.0.0.1:{args.port}"

    # Superset and every command below get the signals too; whichever comes, stop cleanly
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    server = None
    try:
        assets = load_assets()
        check_warehouse(warehouse, assets)
        state.mkdir(parents=True, exist_ok=True)
        log = state / "superset.log"
        env = superset_env(state, warehouse)
        prepare_state(state, env, log, user, password, password_given)
        _say(f"starting Superset on {base} (log: {log})")
        server = start_server(env, log, args.port)
        wait_until_up(server, base, log)
        import_assets(base, user, password, bundle(assets, warehouse), log)
        _say(f"dashboard: {base}/superset/dashboard/{DASHBOARD_SLUG}/")
        _say(f"login:     {user} / {'(SUPPLYLOOP_BI_PASSWORD)' if password_given else password}")
        _say(f"warehouse: {warehouse} (read-only)")
        _say("Ctrl-C stops it")
        server.wait()
        raise SystemExit(f"bi: Superset stopped ({server.returncode}); see {log}\n{_tail(log)}")
    except Stop as stop:
        _say(f"{stop}: stopping Superset")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the shutdown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
