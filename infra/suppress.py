"""Scanner findings the stack accepts on purpose: each one named, on its resource, with its reason.

checkov reads ``Metadata.checkov.skip`` and cfn-lint ``Metadata.cfn-lint.config.ignore_checks``
from the synthesized template, so a suppression lives beside the resource it excuses.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def _resource(construct: IConstruct) -> cdk.CfnResource:
    node = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
    if not isinstance(node, cdk.CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    return node


def accept(construct: IConstruct, check_id: str, reason: str) -> None:
    """Tell checkov that ``check_id`` does not apply to this resource, and why."""
    resource = _resource(construct)
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"].append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", metadata)
