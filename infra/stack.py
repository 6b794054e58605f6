"""The whole deployment as one CloudFormation stack: storage, supplier access, compute, triggers."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.compute import CodeLocation, InstanceDatabase, Network, Triggers
from infra.config import DeployConfig
from infra.storage import LakeBuckets, SupplierAccess


class SupplyloopStack(cdk.Stack):
    """Buckets for landing, lake and feeds; a role per supplier; Fargate runs on a schedule and on arrival."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.key = kms.Key(
            self,
            "DataKey",
            description="Supplyloop: the lake's buckets, logs, images and the instance database",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs encrypts the log groups with it, for this account's log groups only
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        self.buckets = LakeBuckets(self, "Buckets", config=config, key=self.key)
        self.suppliers = SupplierAccess(self, "Suppliers", buckets=self.buckets, suppliers=config.suppliers)
        self.network = Network(self, "Network", config=config, key=self.key)
        self.database = InstanceDatabase(self, "Instance", config=config, network=self.network, key=self.key)
        self.code = CodeLocation(
            self,
            "CodeLocation",
            config=config,
            network=self.network,
            database=self.database,
            buckets=self.buckets,
            key=self.key,
        )
        self.triggers = Triggers(
            self, "Triggers", config=config, network=self.network, code=self.code, buckets=self.buckets
        )
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            "LandingRoot": (self.buckets.landing_root(), "Where sources deliver: landing/<source>/..."),
            "LakeRoot": (self.buckets.lake_root(), "LAKE_ROOT of the runs"),
            "FeedsRoot": (self.buckets.feeds_root(), "Published feeds: feeds/<supplier_id>/..."),
            "ImageRepository": (self.code.repository.repository_uri, "Push the code location's image here"),
            "Cluster": (self.code.cluster.cluster_name, "ECS cluster of the runs"),
            "TaskDefinitionFamily": (self.code.family, "Every run's task definition"),
            "RunLogs": (self.code.logs.log_group_name, "CloudWatch log group of the runs"),
            "InstanceDatabase": (self.database.instance.db_instance_endpoint_address, "Dagster's Postgres"),
            "InstanceDatabaseSecret": (self.database.secret.secret_arn, "Its credentials (Secrets Manager)"),
        }
        for supplier_id, role in self.suppliers.roles.items():
            outputs[f"SupplierRole{supplier_id.replace('-', '').replace('_', '')}"] = (
                role.role_arn,
                f"Supplier {supplier_id} assumes this role to read feeds/{supplier_id}/",
            )
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
