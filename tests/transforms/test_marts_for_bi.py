"""dbt refuses to run while a mart or a mart column is undocumented or a date is misnamed
(transforms/macros/marts_for_bi.sql, run on every dbt command's start)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from orchestration.defs.transform.project import DBT_EXECUTABLE
from orchestration.lib.paths import TRANSFORMS_DIR


def _dbt(project: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LAKE_ROOT": str(tmp_path / "lake"),
        "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_TARGET": "local",
    }
    return subprocess.run(
        [DBT_EXECUTABLE, *args, "--project-dir", str(project), "--profiles-dir", str(project)]
        + ["--target-path", str(tmp_path / "target")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_every_dbt_command_starts_with_the_check_of_the_marts_and_they_pass_it(tmp_path):
    project = yaml.safe_load((TRANSFORMS_DIR / "dbt_project.yml").read_text())
    assert project["on-run-start"] == ["{{ check_marts_for_bi() }}"]
    done = _dbt(TRANSFORMS_DIR, tmp_path, "run-operation", "check_marts_for_bi")
    assert done.returncode == 0, done.stdout[-3000:]


def test_an_undocumented_column_a_misnamed_date_or_a_mart_without_contract_stops_the_build(tmp_path):
    project = tmp_path / "transforms"
    project.mkdir()
    for part in ("dbt_project.yml", "profiles.yml", "macros", "models", "tests"):
        source = TRANSFORMS_DIR / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / part)
    marts = project / "models" / "marts"
    supply = (marts / "_supply.yml").read_text()
    supply = supply.replace("        description: Good units made.\n", "", 1)  # daily_supply.qty_good
    supply = supply.replace("      - name: snapshot_day\n", "      - name: snapshot_date\n", 1)
    (marts / "_supply.yml").write_text(supply)
    balance = (marts / "_balance.yml").read_text()
    (marts / "_balance.yml").write_text(balance.replace("contract: {enforced: true}", "contract: {enforced: false}", 1))

    done = _dbt(project, tmp_path, "build", "--select", "daily_supply")
    assert done.returncode != 0
    assert "daily_supply (models/marts/_supply.yml): column qty_good has no description" in done.stdout
    assert (
        "inventory_position (models/marts/_supply.yml): date column snapshot_date does not end in _day" in done.stdout
    )
    assert "supply_demand_balance (models/marts/_balance.yml): no enforced contract" in done.stdout
    assert "START sql table model marts.daily_supply" not in done.stdout  # nothing was built
