"""The image's commands as its run user (uid 10001) on a read-only copy of the code.

There is no Docker engine here, so the image is emulated on this machine: its folders under
a temporary root (the code copied to ``app/``, owned by root and made read-only, after the
manifest step the Dockerfile runs as root; each folder the Dockerfile gives the run user,
owned by uid 10001), and its environment as the Dockerfile's ENV lines set it, each path
moved under that root. The one thing not the image's own is the Dagster instance's
config: the image's stores runs in Postgres and launches them on ECS, neither of which is
here, so the instance keeps its storage in DAGSTER_HOME (a folder the image gives the run
user all the same). The lake is on S3 (moto on 127.0.0.1), as in the cloud, so the marts
build in ``$SUPPLYLOOP_STATE``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import duckdb
import pytest
from test_dockerfile import WRITTEN_BY_RUNS, environment, instructions, run_user_paths

from infra.compute import RUN_USER
from orchestration.lib.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow

UID, GID = (int(part) for part in RUN_USER.split(":"))
CODE = ("orchestration", "expectations", "transforms", "infra", "pyproject.toml")
SYSTEM_PYTHON = "/usr/bin/python3.11"  # the image's is /usr/local/bin/python3.11, outside any home
LEFT_OUT = ("__pycache__", "target", "logs", "cdk.out", ".state")  # .dockerignore'd or local state


def _as_run_user(command: list[str], env: dict[str, str], cwd: Path, **kwargs):
    setpriv = ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--"]
    return subprocess.Popen([*setpriv, "env", "-i", *(f"{k}={v}" for k, v in env.items()), *command], cwd=cwd, **kwargs)


def _files(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def _venv(folder: Path) -> Path:
    """The image's /opt/venv: a virtual environment of a Python the run user may execute (the
    tests' own may live in root's home) with the tests' installed packages and their commands."""
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(folder)], check=True)
    packages = Path(sysconfig.get_paths()["purelib"])
    (folder / "lib" / "python3.11" / "site-packages" / "installed.pth").write_text(
        f"import site; site.addsitedir({str(packages)!r})\n"
    )
    python = folder / "bin" / "python"
    for command in ("dagster", "dbt"):
        script = Path(sys.executable).with_name(command).read_text().split("\n", 1)[1]
        (folder / "bin" / command).write_text(f"#!{python}\n{script}")
        (folder / "bin" / command).chmod(0o755)
    return folder / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def image(s3_lake):
    """(root, env): the image's folders under a fresh root, and its environment pointed there."""
    if os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists():
        pytest.skip(f"emulating the image's user needs root (the tests' user here) and {SYSTEM_PYTHON}")
    root = Path(tempfile.mkdtemp(prefix="image-"))  # not under pytest's tmp_path: uid 10001 cannot enter it
    root.chmod(0o755)
    env = environment()
    for name in WRITTEN_BY_RUNS:  # test_dockerfile.py checks that the Dockerfile sets each
        if name in env:
            env[name] = str(root / env[name].lstrip("/"))
            Path(env[name]).mkdir(parents=True, exist_ok=True)
    Path(env["TMPDIR"]).chmod(0o1777)
    env["PATH"] = env["PATH"].replace("/opt/venv/bin", str(_venv(root / "opt" / "venv")))
    # install.sh as root put DuckDB's httpfs under $HOME/.duckdb (here: this machine's copy)
    httpfs = (
        duckdb.connect()
        .execute("SELECT install_path FROM duckdb_extensions() WHERE extension_name = 'httpfs'")
        .fetchone()[0]
    )
    extension = Path(env["HOME"]) / Path(httpfs).relative_to(Path(httpfs).parents[4])
    extension.parent.mkdir(parents=True)
    shutil.copy2(httpfs, extension)
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for name in run_user_paths():
        subprocess.run(["chown", "-R", RUN_USER, env[name]], check=True)

    # COPY . /app, then the manifest step (as root), then the code is read-only to the run user
    app = root / "app"
    app.mkdir()
    for name in CODE:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, app / name, ignore=shutil.ignore_patterns(*LEFT_OUT))
        else:
            shutil.copy2(source, app / name)
    (app / "transforms" / "target").mkdir()
    manifest = PROJECT_ROOT / "transforms" / "target" / "manifest.json"
    if manifest.exists():
        shutil.copy2(manifest, app / "transforms" / "target" / "manifest.json")  # kept if still current
    env["PYTHONPATH"] = str(app)  # as `pip install -e .` in /app makes the copy the one imported
    step = "from orchestration.defs.transform.project import ensure_manifest; ensure_manifest()"
    subprocess.run([sys.executable, "-c", step], cwd=app, env={**os.environ, **env}, check=True, capture_output=True)
    subprocess.run(["chmod", "-R", "a-w", str(app)], check=True)

    env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_") or k == "LAKE_ROOT"})
    try:
        yield root, env
    finally:
        shutil.rmtree(root)


def _written(before: dict[str, float], after: dict[str, float]) -> list[str]:
    return sorted(path for path, stamp in after.items() if before.get(path) != stamp)


def test_the_image_serves_its_code_location_and_builds_the_marts_on_s3_as_its_user_writing_only_where_it_says(
    image,
):
    root, env = image
    app = root / "app"
    writable = [str(Path(env[name]).relative_to(root)) + "/" for name in WRITTEN_BY_RUNS if name in env]
    before = _files(root)
    python = str(Path(env["PATH"].split(":")[0]) / "python")

    # CMD: the code location's gRPC server, until the HEALTHCHECK's command says it serves
    port = str(_free_port())
    cmd = json.loads(next(args for k, args in instructions() if k == "CMD"))
    cmd[cmd.index("-h") + 1], cmd[cmd.index("-p") + 1] = "127.0.0.1", port
    health = next(args for k, args in instructions() if k == "HEALTHCHECK")
    check = json.loads(health[health.index("CMD") + 3 :].strip())
    check[check.index("-p") + 1] = port
    server = _as_run_user(cmd, env, app, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            healthy = _as_run_user(check, env, app, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait() == 0
            if healthy or server.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    assert healthy, f"the code server never answered its health check:\n{output[-3000:]}"

    # a run: ingestion, the marts and the feeds on the tiny demo, in an S3 lake
    run = _as_run_user(
        [python, "-m", "orchestration.cli", "run", "--demo", "--preset", "tiny"],
        env,
        app,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = run.communicate(timeout=600)[0].decode(errors="replace")
    assert run.returncode == 0, output[-4000:]
    assert "supplier feed" in output, output[-4000:]

    written = _written(before, _files(root))
    assert Path(env.get("SUPPLYLOOP_STATE", app / ".state"), "warehouse-build.duckdb").exists()
    assert not [p for p in written if not any(p.startswith(w) for w in writable)], writable

    # the copy is the code that runs, and with SUPPLYLOOP_STATE unset the build would still
    # go to a folder the user can write
    probe = (
        "import orchestration, os; from orchestration.lib.warehouse import state_dir;"
        "os.environ.pop('SUPPLYLOOP_STATE', None); print(orchestration.__file__); print(state_dir())"
    )
    out = _as_run_user([python, "-c", probe], env, app, stdout=subprocess.PIPE, text=True).communicate()[0]
    module, unset_state = out.split()
    assert Path(module).is_relative_to(app)
    assert Path(unset_state).is_relative_to(env["HOME"])
