"""Project-wide resources: the lake every asset reads and writes, and the dbt CLI."""

from __future__ import annotations

import dagster as dg

from orchestration.lib.lake import LakeStore


class Lake(dg.ConfigurableResource):
    """The lake root: a local folder or ``s3://bucket/prefix``.

    Empty means ``$LAKE_ROOT`` at run time, else ``lake/`` in the project. S3 endpoint
    and credentials come from the standard AWS settings (see docs/cloud.md).
    """

    root: str = ""

    def store(self) -> LakeStore:
        return LakeStore(self.root or None)


@dg.definitions
def resources() -> dg.Definitions:
    from orchestration.defs.transform.project import dbt_cli

    return dg.Definitions(resources={"lake": Lake(), "dbt": dbt_cli()})
