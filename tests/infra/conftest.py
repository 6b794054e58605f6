"""The stack synthesized once per session, in-process (no CDK CLI, no AWS account), with two suppliers."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.lib.paths import PROJECT_ROOT

INFRA = PROJECT_ROOT / "infra"
SUPPLIERS = "SUP001,SUP002=111122223333"
SOURCES_KEY = "config/sources.yaml"  # a platform's own sources file in the lake bucket

# infra/ is not part of the installed package: import it from the project
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

# jsii still runs on the Node 20 of these machines; keep its end-of-life banner out of the output
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass
class Synthesized:
    stack: object
    template: dict
    path: Path
    assertions: object  # aws_cdk.assertions.Template

    def resources(self, kind: str) -> dict[str, dict]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == kind}


def cdk_context(**overrides) -> dict:
    """The context `cdk synth` would use: infra/cdk.json's, with overrides."""
    context = json.loads((INFRA / "cdk.json").read_text())["context"]
    return {**context, **overrides}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> Synthesized:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.app import build

    out = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(out), context=cdk_context(suppliers=SUPPLIERS, imageTag="test", sourcesKey=SOURCES_KEY))
    stack = build(app)
    assembly = app.synth()
    artifact = assembly.get_stack_by_name(stack.stack_name)
    return Synthesized(
        stack=stack,
        template=artifact.template,
        path=Path(assembly.directory) / artifact.template_file,
        assertions=Template.from_stack(stack),
    )
