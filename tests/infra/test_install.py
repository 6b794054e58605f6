"""What each command installs on first use: `make run` the local loop alone, into one venv that
`make test` and `make synth` add their extras to (read from `make -n`, nothing installed)."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from orchestration.lib.paths import PROJECT_ROOT


def planned_installs(target: str, venv) -> list[str]:
    """The extras sets `make TARGET` would install into ``venv``, in order."""
    env = {**os.environ, "DAGSTER_HOME": str(venv.parent / "dagster-home")}
    done = subprocess.run(
        ["make", "-n", "-C", str(PROJECT_ROOT), target, f"VENV={venv}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    installs = []
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if words[:2] == ["bash", "infra/install.sh"]:
            assert words[2] == str(venv), line  # always the one venv
            installs.append(words[3])
    return installs


@pytest.mark.parametrize(
    "target, extras",
    [
        ("run", ["base"]),
        ("demo", ["base"]),
        ("ui", ["base"]),
        ("onboard", ["base"]),
        ("test", ["base", "test,infra,cloud"]),
        ("lint", ["base", "test,infra,cloud"]),
        ("synth", ["base", "infra"]),
    ],
)
def test_each_command_on_a_fresh_machine_installs_only_the_extras_it_needs(tmp_path, target, extras):
    assert planned_installs(target, tmp_path / "venv") == extras


def test_make_test_after_make_run_adds_the_test_tools_on_top_without_installing_the_base_again(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed-base").touch()  # what `make run` leaves, newer than pyproject.toml
    assert planned_installs("run", venv) == []
    assert planned_installs("test", venv) == ["test,infra,cloud"]


def test_a_changed_pyproject_installs_again(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    stamp = venv / ".installed-base"
    stamp.touch()
    older = (PROJECT_ROOT / "pyproject.toml").stat().st_mtime - 60
    os.utime(stamp, (older, older))
    assert planned_installs("run", venv) == ["base"]


def test_an_unknown_extra_is_refused_before_anything_is_created(tmp_path):
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["bash", str(PROJECT_ROOT / "infra" / "install.sh"), str(venv), "base,tests"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "unknown extra 'tests'; use base or test, " in done.stderr
    assert not venv.exists()
