"""The marts beyond one machine: the dbt project compiles for Amazon Athena through the real
dbt-athena adapter, talking to moto's Athena, Glue and S3 on 127.0.0.1, and what it compiles
to is Trino SQL with nothing left of DuckDB."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
import sqlglot
import yaml
from sqlglot import exp

from orchestration.lib import arrivals, feeds
from orchestration.lib.paths import TRANSFORMS_DIR
from orchestration.lib.sources import load_sources
from orchestration.lib.warehouse import LEDGERS

DBT = Path(sys.executable).parent / "dbt"

# Functions sqlglot does not know by name but Athena (Trino) has; dbt-athena's datediff uses it.
TRINO_ONLY_FUNCTIONS = {"to_milliseconds"}

# What runs on DuckDB only: its Parquet reader, `::` casts and the clauses Trino lacks.
DUCKDB_ONLY = {
    "read_parquet": re.compile(r"\bread_parquet\s*\(", re.I),
    "hive_partitioning": re.compile(r"\bhive_partitioning\b", re.I),
    ":: cast": re.compile(r"::"),
    "strftime": re.compile(r"\bstrftime\s*\(", re.I),
    "qualify": re.compile(r"\bqualify\b", re.I),
    "group by all": re.compile(r"\bgroup\s+by\s+all\b", re.I),
    "select * exclude": re.compile(r"\*\s*exclude\b", re.I),
    "percentile_cont": re.compile(r"\bpercentile_cont\b", re.I),
    "list aggregate": re.compile(r"\b(list|arg_max|arg_min)\s*\(", re.I),
}

# Athena types of the bronze columns as the ingestion writes them (orchestration/lib/sources.py)
ATHENA_TYPES = {
    "string": "string",
    "int64": "bigint",
    "double": "double",
    "decimal128(18, 2)": "decimal(18,2)",
    "date32[day]": "date",
    "timestamp[us, tz=UTC]": "timestamp",
}


@pytest.fixture(scope="module")
def athena(s3_server, tmp_path_factory) -> dict[str, str]:
    """The environment of an Athena target on the test server: a results bucket, a lake bucket."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server.url,  # Athena, Glue and S3 alike
        "DBT_TARGET": "athena",
        "DBT_TARGET_PATH": str(tmp_path_factory.mktemp("athena_target")),
        "DBT_LOG_PATH": str(tmp_path_factory.mktemp("athena_logs")),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    s3 = aws_client("s3", s3_server.url)
    results, lake = f"athena-results-{uuid.uuid4().hex[:8]}", f"lake-{uuid.uuid4().hex[:8]}"
    for bucket in (results, lake):
        s3.create_bucket(Bucket=bucket)
    env["ATHENA_S3_STAGING_DIR"] = f"s3://{results}/queries/"
    env["LAKE_ROOT"] = f"s3://{lake}/lake"
    for stale in ("SUPPLYLOOP_START_DAY", "SUPPLYLOOP_END_DAY", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR"):
        env.pop(stale, None)
    return env


def aws_client(service: str, url: str):
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def dbt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [str(DBT), *args, "--project-dir", str(TRANSFORMS_DIR), "--profiles-dir", str(TRANSFORMS_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, f"dbt {' '.join(args)} failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    return run


@pytest.fixture(scope="module")
def compiled(athena) -> dict[str, str]:
    """`dbt compile --target athena`: the compiled SQL of every model, by name."""
    dbt(athena, "compile")
    target = Path(athena["DBT_TARGET_PATH"])
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    assert {r["status"] for r in results} == {"success"}
    models = {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    missing = sorted(name for name, node in models.items() if not node.get("compiled_code"))
    assert not missing, f"models without compiled SQL for athena: {missing}"
    return {name: node["compiled_code"] for name, node in models.items()}


def test_every_model_compiles_for_athena_through_the_real_adapter(compiled):
    model_files = {p.stem for p in (TRANSFORMS_DIR / "models").rglob("*.sql")}
    assert set(compiled) == model_files
    assert '"supplyloop_bronze"."order_lines"' in compiled["stg_sales__order_lines"]
    assert '"supplyloop_staging"."stg_sales__order_lines"' in compiled["int_order_lines_enriched"]


def test_compiled_sql_for_athena_has_nothing_only_duckdb_runs(compiled):
    found = {
        name: [construct for construct, pattern in DUCKDB_ONLY.items() if pattern.search(sql)]
        for name, sql in compiled.items()
    }
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_compiled_sql_for_athena_parses_as_trino_with_known_functions_only(compiled):
    unknown, decimal_divisions = {}, {}
    for name, sql in compiled.items():
        tree = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
        functions = {f.name.lower() for f in tree.find_all(exp.Anonymous)} - TRINO_ONLY_FUNCTIONS
        if functions:
            unknown[name] = sorted(functions)
        # Trino divides by a decimal literal at that literal's scale (x / 7.0 keeps one decimal);
        # DuckDB divides in double. Divide by a double instead.
        divisions = [
            d.sql("athena")
            for d in tree.find_all(exp.Div)
            if isinstance(d.expression, exp.Literal) and "." in d.expression.name
        ]
        if divisions:
            decimal_divisions[name] = divisions
    assert unknown == {}
    assert decimal_divisions == {}


def test_bronze_tables_are_registered_through_athena_with_partition_projection(athena, s3_server):
    dbt(athena, "run-operation", "create_bronze_tables")
    client = aws_client("athena", s3_server.url)
    ids = client.list_query_executions(MaxResults=50)["QueryExecutionIds"]
    queries = [client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]
    creates = [q for q in queries if "create external table" in q.lower()]  # after dbt's query comment
    lake = athena["LAKE_ROOT"]
    sources = load_sources()
    assert len(creates) == len(sources) + len(LEDGERS)
    folders = {name: (name, source.is_daily) for name, source in sources.items()}
    folders.update({name: (f"_{name}", True) for name in LEDGERS})  # the pipeline's own, by day
    for name, (folder, daily) in folders.items():
        (ddl,) = [q for q in creates if f"`supplyloop_bronze`.`{name}` (" in q]
        assert sqlglot.parse_one(ddl, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
        assert f"location '{lake}/bronze/{folder}/'" in ddl
        assert ("'projection.day.type' = 'date'" in ddl) == daily
        assert ("partitioned by (`day` date)" in ddl) == daily


def test_declared_bronze_columns_are_the_ones_the_ingestion_writes():
    declared = {
        table["name"]: [(c["name"], c["data_type"]) for c in table["columns"]]
        for group in yaml.safe_load((TRANSFORMS_DIR / "models" / "staging" / "_sources.yml").read_text())["sources"]
        for table in group["tables"]
    }
    schemas = {name: source.schema for name, source in load_sources().items()}
    schemas.update({"deliveries": arrivals.SCHEMA, "feed_outcomes": feeds.OUTCOME_SCHEMA})
    written = {
        name: [(field.name, ATHENA_TYPES[str(field.type)]) for field in schema] for name, schema in schemas.items()
    }
    assert declared == written
