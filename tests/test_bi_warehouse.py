"""The published warehouse as a BI tool or an analyst meets it, after a real build of the tiny
demo: the marts alone (views over the lake's Parquet), every mart and column described, one
naming rule for dates, and the README's CLI and Python examples run as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy
import yaml

from orchestration.cli import materialize_all
from orchestration.lib.demo import generate
from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import TRANSFORMS_DIR

pytestmark = pytest.mark.slow

# The README's examples, verbatim ("The marts, for BI tools"); run from the project's folder,
# where the lake is ./lake
CLI_EXAMPLE = '.venv/bin/duckdb -readonly lake/warehouse.duckdb "SELECT * FROM marts.daily_supply LIMIT 5"'
DUCKDB_SNIPPET = """\
import duckdb
con = duckdb.connect()  # in memory, with the warehouse attached read-only
con.execute("ATTACH 'lake/warehouse.duckdb' AS warehouse (READ_ONLY); USE warehouse")
con.sql("SELECT * FROM marts.inventory_position WHERE available < 0").show()
"""
SQLALCHEMY_SNIPPET = """\
import sqlalchemy
engine = sqlalchemy.create_engine("duckdb:///lake/warehouse.duckdb", connect_args={"read_only": True})
with engine.connect() as conn:
    print(conn.execute(sqlalchemy.text("SELECT count(*) FROM marts.daily_demand")).scalar())
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A folder laid out like the project after `make run`: ./lake with the published warehouse."""
    folder = tmp_path_factory.mktemp("project")
    store = LakeStore(str(folder / "lake"))
    generate(store, preset="tiny", seed=11)
    results = materialize_all(store, instance=dg.DagsterInstance.ephemeral())
    assert all(r.success for r in results)
    return folder


@pytest.fixture
def warehouse(project):
    with duckdb.connect(str(project / "lake" / "warehouse.duckdb"), read_only=True) as con:
        yield con


def _yaml_descriptions() -> dict[tuple[str, str | None], str]:
    """{(mart, column or None for the table): description} from transforms/models/marts/_*.yml."""
    found = {}
    for path in sorted((TRANSFORMS_DIR / "models" / "marts").glob("_*.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            found[(model["name"], None)] = model["description"]
            for column in model.get("columns", []):
                found[(model["name"], column["name"])] = column["description"]
    return found


def test_every_mart_and_each_of_its_columns_carries_its_yaml_description_as_a_comment(warehouse):
    tables = warehouse.execute("SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'marts'").fetchall()
    columns = warehouse.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts'"
    ).fetchall()
    assert len(tables) >= 10 and len(columns) >= 150
    assert [t for t, comment in tables if not (comment or "").strip()] == []
    assert [(t, c) for t, c, comment in columns if not (comment or "").strip()] == []
    described = _yaml_descriptions()
    published = {(t, None): comment for t, comment in tables} | {(t, c): comment for t, c, comment in columns}
    assert {key: text.strip() for key, text in published.items()} == {key: described[key].strip() for key in published}


def test_bi_tools_list_the_marts_schema_alone(project):
    """What a schema browser shows (Superset lists schemas through duckdb_engine's inspector)."""
    engine = sqlalchemy.create_engine(
        f"duckdb:///{project / 'lake' / 'warehouse.duckdb'}", connect_args={"read_only": True}
    )
    try:
        inspector = sqlalchemy.inspect(engine)
        schemas = [s for s in inspector.get_schema_names() if s.startswith("warehouse.")]
        assert schemas == ["warehouse.main", "warehouse.marts"]
        assert inspector.get_table_names(schema="warehouse.main") == []  # DuckDB's default, empty
        assert inspector.get_view_names(schema="warehouse.main") == []
        assert "supply_demand_balance" in inspector.get_view_names(schema="warehouse.marts")  # over the Parquet
    finally:
        engine.dispose()


def test_every_date_column_of_a_mart_ends_in_day_and_every_timestamp_in_at(warehouse):
    columns = warehouse.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'marts'"
    ).fetchall()
    dates = {(t, c) for t, c, data_type in columns if data_type == "DATE"}
    timestamps = {(t, c) for t, c, data_type in columns if data_type.startswith("TIMESTAMP")}
    assert {("inventory_position", "snapshot_day"), ("supply_demand_balance", "week_start_day")} <= dates
    assert sorted(f"{t}.{c}" for t, c in dates if not c.endswith("_day")) == []
    assert sorted(f"{t}.{c}" for t, c in timestamps if not c.endswith("_at")) == []


def test_the_readmes_duckdb_cli_example_runs_on_the_published_warehouse(project):
    assert (Path(sys.executable).parent / "duckdb").exists(), "duckdb-cli installs .venv/bin/duckdb"
    command = CLI_EXAMPLE.replace(".venv/bin/duckdb", str(Path(sys.executable).parent / "duckdb"), 1)
    done = subprocess.run(command, shell=True, cwd=project, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "production_day" in lines[1] and len([line for line in lines if line.startswith("│ 20")]) == 5, done.stdout


def _renamed(snippet: str, name: str) -> str:
    """The snippet with its variable ``name`` renamed, so that the first one stays open."""
    return re.sub(rf"\b{name}\b", f"{name}_2", snippet)


def test_the_readmes_python_snippets_work_together_in_one_process_in_either_order(project):
    # each snippet keeps its connection open (the engine in its pool) while the other opens its own
    duckdb_first = [DUCKDB_SNIPPET, SQLALCHEMY_SNIPPET, _renamed(DUCKDB_SNIPPET, "con")]
    sqlalchemy_first = [SQLALCHEMY_SNIPPET, DUCKDB_SNIPPET, _renamed(SQLALCHEMY_SNIPPET, "engine")]
    for snippets, (shown, counted) in ((duckdb_first, (2, 1)), (sqlalchemy_first, (1, 2))):
        done = subprocess.run(
            [sys.executable, "-c", "\n".join(snippets)], cwd=project, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        counts = [int(line) for line in done.stdout.splitlines() if line.strip().isdigit()]
        assert len(counts) == counted and all(n > 0 for n in counts), done.stdout
        assert done.stdout.count("snapshot_day") == shown, done.stdout  # each table header
