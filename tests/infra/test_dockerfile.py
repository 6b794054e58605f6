"""The image's Dockerfile, read as text (no Docker engine here): pinned, non-root, one install path."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from orchestration.lib.paths import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "infra" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        lines.append((keyword.upper(), rest.strip()))
        current = ""
    return lines


def only(keyword: str) -> list[str]:
    return [args for k, args in instructions() if k == keyword]


BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # the python base image's


def environment() -> dict[str, str]:
    """The environment the image's ENV instructions set, ARG defaults and $VARIABLES expanded."""
    env, build_args = {"PATH": BASE_PATH}, {}
    for keyword, args in instructions():
        if keyword not in ("ARG", "ENV"):
            continue
        for word in shlex.split(args):
            name, _, value = word.partition("=")
            value = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), build_args.get(m.group(1), "")), value)
            (env if keyword == "ENV" else build_args)[name] = value
    return env


def run_user_paths() -> list[str]:
    """The ENV variables whose folders the image gives its run user (``chown ... "$NAME"``)."""
    (run,) = [a for a in only("RUN") if "chown" in a]
    chown = run[run.index("chown") :].split("&&")[0]
    return re.findall(r'"\$(\w+)"', chown)


# what a run writes: DuckDB's extensions, the instance, the marts' build (dbt's target and log
# folders go there too: dagster-dbt points both at the build's), temporary files
WRITTEN_BY_RUNS = ("HOME", "DAGSTER_HOME", "SUPPLYLOOP_STATE", "TMPDIR")


def test_base_image_is_python_3_11_pinned_to_an_exact_release():
    (base,) = only("FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base


def test_the_image_runs_as_a_non_root_user_with_the_uid_the_task_definition_names():
    from infra.compute import RUN_USER

    *_, user = only("USER")
    assert user == RUN_USER
    assert user.split(":")[0] not in ("root", "0")
    assert instructions()[-1][0] in ("CMD", "ENTRYPOINT")  # nothing after USER runs as root again
    assert [k for k, _ in instructions()].index("USER") > max(
        i for i, (k, _) in enumerate(instructions()) if k == "RUN"
    )


def test_the_image_installs_with_the_one_install_script_and_only_runtime_extras():
    runs = [a for a in only("RUN") if "infra/install.sh" in a]
    assert len(runs) == 1
    words = shlex.split(runs[0].split("&&")[0])
    script = words.index("infra/install.sh")
    assert words[script - 1] == "bash"
    venv, extras = words[script + 1], words[script + 2]
    assert venv.startswith("/")
    assert set(extras.split(",")) == {"cloud"}, "test and infra tooling stay out of the image"
    assert f"PATH={venv}/bin" in " ".join(only("ENV"))


def test_the_cloud_instance_config_and_the_httpfs_extension_belong_to_the_run_user():
    env = environment()
    assert env["HOME"] == "/home/supplyloop"  # install.sh puts DuckDB's httpfs under $HOME/.duckdb
    assert env["DAGSTER_HOME"] == "/opt/dagster/home"
    run = next(a for a in only("RUN") if "infra/install.sh" in a)
    assert 'cp infra/dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in run
    assert {"HOME", "DAGSTER_HOME"} <= set(run_user_paths())


def test_every_path_a_run_writes_is_set_explicitly_and_the_code_stays_roots():
    env = environment()
    for name in WRITTEN_BY_RUNS:
        assert env.get(name, "").startswith("/"), f"ENV {name} is not set to an absolute path"
    # the marts' build on S3 goes to $SUPPLYLOOP_STATE; unset, it would be /app/.state, which
    # the run user cannot create
    assert not env["SUPPLYLOOP_STATE"].startswith("/app")
    assert set(run_user_paths()) == set(WRITTEN_BY_RUNS) - {"TMPDIR"}  # /tmp: everyone's
    run = next(a for a in only("RUN") if "chown" in a)
    assert "/app" not in run[run.index("chown") :], "the code is read-only to the run user"
    assert 'mkdir -p "$DAGSTER_HOME" "$SUPPLYLOOP_STATE"' in run


def test_the_image_names_the_code_version_its_feeds_are_made_by():
    assert "CODE_VERSION=unknown" in only("ARG")
    assert "SUPPLYLOOP_CODE_VERSION=$CODE_VERSION" in " ".join(only("ENV"))


def test_the_default_command_serves_the_code_location():
    (cmd,) = only("CMD")
    command = json.loads(cmd)
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-m") + 1] == "orchestration.definitions"
    assert command[command.index("--location-name") + 1] == "supplyloop"  # as `make ui` and the daemon name it


@pytest.mark.parametrize("left_out", [".venv", "lake", ".git", "tests", "transforms/target"])
def test_the_build_context_leaves_out_local_state(left_out):
    ignored = (PROJECT_ROOT / "infra" / "Dockerfile.dockerignore").read_text().split()
    assert left_out in ignored
