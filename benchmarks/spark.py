"""The marts built on Apache Spark next to DuckDB's build of the same lake.

    python -m benchmarks.spark [--lake .bench/spark-lake] [--preset small]

Both sides run `dbt run --full-refresh` on the same bronze Parquet, each in its own process:
DuckDB (the local target), and Spark in local mode in the dbt process (DBT_TARGET=spark,
dbt-spark's session method: one JVM, local[2], two shuffle partitions), which first
registers the bronze as Spark tables (`dbt run-operation create_bronze_tables`). Models only:
the data tests and the marts' Parquet export are DuckDB's build's business. Each side also
reports every mart's row count and the sums of its numeric columns, which
tests/transforms/test_spark.py reconciles; the seconds are dbt's alone, the totals after.
Peak memory is that of the process, Spark's JVM (a child of it) added.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import PROJECT, ensure_demo, run_child

SPARK_LAKE = PROJECT / ".bench" / "spark-lake"

# column types whose sums reconcile the marts (DuckDB's names for them; booleans, text and
# days are compared through the row counts)
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL")


def ingest_bronze(lake: str) -> None:
    """Bronze of every source and day the lake's landing zone holds, once (kept thereafter)."""
    from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import daily_sources, master_sources

    store = LakeStore(lake)
    if store.list_files("bronze", "*.parquet", recursive=True):
        return
    for source in master_sources():
        ingest_snapshot(store, source)
    for source in daily_sources():
        ingest_days(store, source, [day for day in landing_index(store, source) if day])


def dbt_env(lake: str, work: Path, target: str) -> dict[str, str]:
    """The environment of a build of ``lake`` on ``target`` (local or spark), all of it under ``work``."""
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.warehouse import Warehouse

    env = {
        **os.environ,
        **Warehouse(LakeStore(lake)).dbt_env(),
        "DBT_TARGET": target,
        "WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
        "SPARK_WAREHOUSE_DIR": str(work / "spark"),
        # one process registers bronze, builds and reads the totals: no metastore to start
        "SPARK_CATALOG": "in-memory",
        "DBT_TARGET_PATH": str(work / f"target-{target}"),
        "DBT_LOG_PATH": str(work / f"logs-{target}"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    # a build of the whole history in one pass, as a build without the orchestration's window
    for name in ("SUPPLYLOOP_START_DAY", "SUPPLYLOOP_END_DAY", "SUPPLYLOOP_EXPORT_DIR"):
        env.pop(name, None)
    return env


def _dbt(*args: str, in_process: bool) -> None:
    """dbt in this process (Spark's session is then this process's, and stays for the totals),
    or as dbt's own command (DuckDB: dbt-duckdb holds its file open in the process that built it)."""
    from orchestration.lib.paths import TRANSFORMS_DIR

    where = ["--project-dir", str(TRANSFORMS_DIR), "--profiles-dir", str(TRANSFORMS_DIR), "--quiet"]
    if not in_process:
        dbt = Path(sys.executable).parent / "dbt"
        done = subprocess.run([str(dbt), *args, *where], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"dbt {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        return
    from dbt.cli.main import dbtRunner

    done = dbtRunner().invoke([*args, *where])
    if not done.success:
        failed = [r.node.name for r in (done.result or []) if getattr(r, "status", None) in ("error", "fail")]
        raise RuntimeError(f"dbt {' '.join(args)} failed (models: {failed}): {done.exception or 'see the dbt log'}")


def _peak_mb() -> float:
    """This process's peak and its children's: the finished ones (dbt's command) and Spark's
    JVM, still running (its high-water mark from /proc), added to this process's own."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own + _jvm_peak_kb(), children) / 1024


def _jvm_peak_kb() -> int:
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    status = Path(f"/proc/{gateway.proc.pid}/status") if gateway and getattr(gateway, "proc", None) else None
    if status is None or not status.exists():
        return 0
    line = next((x for x in status.read_text().splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def mart_names() -> list[str]:
    from orchestration.lib.paths import TRANSFORMS_DIR

    return sorted(p.stem for p in (TRANSFORMS_DIR / "models" / "marts").glob("*.sql"))


def build(target: str, lake: str, work: str) -> dict:
    """Build the marts of ``lake`` on ``target`` (local or spark) in this process; seconds,
    peak memory, and per mart its rows and the sums of its numeric columns (by DuckDB's types)."""
    work_dir = Path(work)
    # a fresh Spark warehouse: the in-memory catalog forgets the last run's tables, not their folders
    shutil.rmtree(work_dir / "spark", ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(dbt_env(lake, work_dir, target))
    started = time.perf_counter()
    spark = target == "spark"
    if spark:
        _dbt("run-operation", "create_bronze_tables", in_process=True)
    _dbt("run", "--full-refresh", in_process=spark)
    seconds = time.perf_counter() - started
    totals = _spark_totals() if target == "spark" else _duckdb_totals(work_dir / "warehouse.duckdb")
    peak_mb = _peak_mb() if spark else (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return {"target": target, "seconds": seconds, "peak_mb": peak_mb, "marts": totals}


def _duckdb_totals(path: Path) -> dict:
    import duckdb

    from orchestration.lib.warehouse import MARTS_SCHEMA

    con = duckdb.connect(str(path), read_only=True)
    totals = {}
    for name in mart_names():
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [MARTS_SCHEMA, name],
        ).fetchall()
        if not columns:
            continue
        numeric = [c for c, kind in columns if kind.split("(")[0].upper() in NUMERIC]
        sums = ", ".join(f'sum(cast("{c}" as double))' for c in numeric)
        row = con.execute(f'select count(*){", " + sums if sums else ""} from "{MARTS_SCHEMA}"."{name}"').fetchone()
        totals[name] = {"rows": row[0], "sums": dict(zip(numeric, row[1:]))}
    return totals


def _spark_totals() -> dict:
    """The same totals from the session dbt built with (its schema for the marts is
    <SPARK_SCHEMA>_marts, transforms/macros/generate_schema_name.sql)."""
    from pyspark.sql import SparkSession
    from pyspark.sql.types import NumericType

    spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    schema = f"{os.environ.get('SPARK_SCHEMA', 'supplyloop')}_marts"
    present = {row.tableName for row in spark.sql(f"show tables in `{schema}`").collect()}
    totals = {}
    for name in mart_names():
        if name not in present:
            continue
        table = spark.table(f"`{schema}`.`{name}`")
        numeric = [f.name for f in table.schema.fields if isinstance(f.dataType, NumericType)]
        sums = ", ".join(f"sum(cast(`{c}` as double))" for c in numeric)
        row = spark.sql(f"select count(*){', ' + sums if sums else ''} from `{schema}`.`{name}`").collect()[0]
        totals[name] = {"rows": row[0], "sums": dict(zip(numeric, list(row)[1:]))}
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default=str(SPARK_LAKE))
    parser.add_argument("--preset", default="small")
    parser.add_argument("--child", choices=["local", "spark"])
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(build(args.child, args.lake, args.work)))
        return 0
    ensure_demo(args.lake, args.preset)
    ingest_bronze(args.lake)
    work = Path(args.lake).parent / "spark-work"
    duck = run_child("benchmarks.spark", "local", "--lake", args.lake, "--work", str(work / "local"))
    spark = run_child("benchmarks.spark", "spark", "--lake", args.lake, "--work", str(work / "spark"))
    marts = sum(name in spark["marts"] for name in duck["marts"])
    print(
        f"\nmarts on Spark (local[2]) vs DuckDB, {args.preset} preset, {marts} marts, dbt run --full-refresh:"
        f"\n  DuckDB {duck['seconds']:.1f} s, peak {duck['peak_mb']:,.0f} MB;"
        f"  Spark {spark['seconds']:.1f} s, peak {spark['peak_mb']:,.0f} MB;"
        f"  Spark / DuckDB {spark['seconds'] / duck['seconds']:.1f}x",
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
