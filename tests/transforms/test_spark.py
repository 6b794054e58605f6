"""The marts beyond one machine, executed: the dbt project runs on Apache Spark (local mode,
dbt-spark's session method, DBT_TARGET=spark) over the same bronze Parquet the DuckDB build
reads, and its marts reconcile with DuckDB's: the same marts, the same rows, the same totals.

One tiny demo lake; each engine builds it once for the module, in a process of its own
(benchmarks/spark.py, which `make bench` times the same way).
"""

from __future__ import annotations

import math

import pytest

from benchmarks.common import run_child
from benchmarks.spark import ingest_bronze, mart_names
from orchestration.lib.demo import generate
from orchestration.lib.lake import LakeStore

pytestmark = pytest.mark.slow

# Doubles summed by two engines in different orders agree to about 1e-12 of the total, not
# to the last bit; integers and decimals (summed here as doubles below 2**53) agree exactly.
RELATIVE_TOLERANCE = 1e-9
# supply_demand_balance projects stock week by week from the forecast's doubles and lets each
# week's rounding carry into the next; the two engines' totals agree to about 1e-6 of them
NEAR = {"supply_demand_balance": 1e-5}


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("spark") / "lake")
    generate(LakeStore(root), preset="tiny", seed=11)
    ingest_bronze(root)
    return root


@pytest.fixture(scope="module")
def builds(lake, tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("builds")
    return {
        target: run_child("benchmarks.spark", target, "--lake", lake, "--work", str(work / target))
        for target in ("local", "spark")
    }


def test_every_mart_is_built_on_spark_and_on_duckdb(builds):
    assert set(builds["local"]["marts"]) == set(mart_names())
    assert set(builds["spark"]["marts"]) == set(mart_names())


def test_each_mart_has_the_same_rows_on_spark_as_on_duckdb(builds):
    duck, spark = builds["local"]["marts"], builds["spark"]["marts"]
    assert {name: spark[name]["rows"] for name in duck} == {name: t["rows"] for name, t in duck.items()}
    assert sum(t["rows"] for t in duck.values()) > 1000


def test_each_marts_numeric_columns_sum_to_the_same_totals_on_spark_as_on_duckdb(builds):
    duck, spark = builds["local"]["marts"], builds["spark"]["marts"]
    differ = {}
    for name, totals in duck.items():
        assert set(spark[name]["sums"]) == set(totals["sums"]), f"{name}: the numeric columns differ"
        for column, expected in totals["sums"].items():
            got = spark[name]["sums"][column]
            same = (got is None and expected is None) or (
                got is not None
                and expected is not None
                and math.isclose(got, expected, rel_tol=NEAR.get(name, RELATIVE_TOLERANCE))
            )
            if not same:
                differ[f"{name}.{column}"] = (expected, got)
    assert differ == {}, f"DuckDB vs Spark totals: {differ}"
