"""The code location loads for a platform that delivers only some sources, by configuration alone."""

import json
import os
import subprocess
import sys

PROBE = """
import json
import os
from orchestration.definitions import defs
defs.resolve_all_job_defs()
graph = defs.resolve_asset_graph()
print(json.dumps(sorted(k.to_user_string() for k in graph.materializable_asset_keys if k.path[0] == "bronze")))
"""


def test_the_code_location_loads_with_a_platform_file_that_delivers_sales_and_master_data_only(tmp_path):
    platform = tmp_path / "sources.yaml"
    platform.write_text(
        "sources:\n"
        "  order_lines: {encoding: gb18030, files: '销售订单_*.csv', day_in_name: '%Y%m%d'}\n"
        "  products: {format: csv, files: '商品*.csv', day_in_name: null}\n"
        "  suppliers: {format: csv}\n  partners: {}\n  warehouses: {}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, "SUPPLYLOOP_SOURCES": str(platform)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        "bronze/master/partners",
        "bronze/master/products",
        "bronze/master/suppliers",
        "bronze/master/warehouses",
        "bronze/sales/order_lines",
    ]
