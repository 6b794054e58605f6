"""cfn-lint and checkov over the synthesized template and the Dockerfile: nothing left unexplained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.lib.paths import PROJECT_ROOT

SCANNERS = Path(sys.prefix) / "scanners" / "bin"  # made by infra/install.sh with the "infra" extra


def scanner(name: str) -> str:
    path = SCANNERS / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in {SCANNERS.parent}: run `bash infra/install.sh .venv test,infra,cloud`")
    return str(path)


def checkov(*args: str) -> dict:
    # --skip-download: no call home; severities and doc links need an API key anyway
    done = subprocess.run(
        [scanner("checkov"), *args, "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    results = {"passed_checks": [], "failed_checks": [], "skipped_checks": []}
    for one in reports:
        for kind in results:
            results[kind] += one.get("results", {}).get(kind, [])
    return results


def _accepted(template: dict) -> dict[tuple[str, str], str]:
    """Every checkov suppression in the template: (check, resource) -> reason."""
    return {
        (skip["id"], logical_id): skip.get("comment", "")
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }


def test_cfn_lint_finds_nothing_in_the_template(synthesized):
    done = subprocess.run(
        [scanner("cfn-lint"), "--format", "parseable", str(synthesized.path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkov_passes_every_check_but_the_accepted_ones_each_with_its_reason(synthesized):
    results = checkov("--file", str(synthesized.path), "--framework", "cloudformation")
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert len(results["passed_checks"]) > 100
    accepted = _accepted(synthesized.template)
    skipped = {(c["check_id"], c["resource"].split(".", 1)[1]) for c in results["skipped_checks"]}
    # every suppression names a check checkov really runs on that resource, and says why
    assert skipped == set(accepted), {"stale": set(accepted) - skipped, "unexplained": skipped - set(accepted)}
    assert all(len(reason) > 20 for reason in accepted.values()), accepted


def test_checkov_passes_the_dockerfile():
    results = checkov("--file", str(PROJECT_ROOT / "infra" / "Dockerfile"), "--framework", "dockerfile")
    failed = [f"{c['check_id']}: {c['check_name']}" for c in results["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert results["passed_checks"]
