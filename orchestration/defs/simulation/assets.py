"""The closed-loop simulation as an asset the UI shows: its runs are reported by `supplyloop simulate`."""

import dagster as dg

from orchestration.defs.ingest.assets import OWNERS
from orchestration.lib.simulation.record import DESCRIPTION, SIMULATION_KEY

closed_loop = dg.AssetSpec(
    SIMULATION_KEY,
    description=DESCRIPTION,
    group_name="simulation",
    kinds={"python"},
    owners=OWNERS,
    deps=[dg.AssetKey(["feeds", "supplier_replenishment"])],
)
