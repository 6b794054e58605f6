"""The CDK app: `cdk synth` / `cdk deploy` run `python -m infra.app` (see infra/cdk.json).

Settings come from CDK context (infra/config.py); the account and region from the AWS
credentials the CDK CLI found (or none: an environment-agnostic template).
"""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.config import DeployConfig
from infra.stack import SupplyloopStack

STACK_NAME = "Supplyloop"


def build(app: cdk.App, env: cdk.Environment | None = None) -> SupplyloopStack:
    """The stack, with its settings read from the app's context."""
    config = DeployConfig.from_context(app.node.try_get_context)
    stack_name = app.node.try_get_context("stackName") or STACK_NAME
    stack = SupplyloopStack(
        app,
        stack_name,
        config=config,
        env=env,
        description="Supplyloop: S3 lake, per-supplier feeds, Dagster runs on Fargate on a schedule and on arrival",
    )
    cdk.Tags.of(stack).add("project", "supplyloop")
    return stack


def main() -> None:
    app = cdk.App()
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    build(app, cdk.Environment(account=account, region=region) if account and region else None)
    app.synth()


if __name__ == "__main__":
    main()
