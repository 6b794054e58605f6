"""The whole deployment as one CloudFormation stack: storage, supplier access, compute, triggers."""

from __future__ import annotations

import hashlib
import re

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.compute import CodeLocation, InstanceDatabase, Network, Triggers
from infra.config import DeployConfig
from infra.spark import SparkMarts
from infra.storage import LakeBuckets, PartnerAccess, SupplierAccess


def output_name(supplier_id: str) -> str:
    """A stack output's name for a supplier: letters and digits only, distinct for distinct ids."""
    name = re.sub(r"[^A-Za-z0-9]", "", supplier_id)
    return name if name == supplier_id else f"{name}{hashlib.sha1(supplier_id.encode()).hexdigest()[:6]}"


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
        self.partners = PartnerAccess(self, "Partners", buckets=self.buckets)
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
        # the marts on Spark, as jobs of their own (DBT_TARGET=spark; docs/cloud.md)
        self.spark = SparkMarts(self, "SparkMarts", buckets=self.buckets, key=self.key)
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            "LandingRoot": (self.buckets.landing_root(), "Where sources deliver: landing/<source>/..."),
            "LakeRoot": (self.buckets.lake_root(), "LAKE_ROOT of the runs"),
            "FeedsRoot": (self.buckets.feeds_root(), "Published feeds: feeds/<supplier_id>/..."),
            "PartnerFeedsRoot": (self.buckets.partner_feeds_root(), "Published partner feeds: <partner_id>/..."),
            "PartnerReaderRole": (
                self.partners.role.role_arn,
                "Every partner assumes this role with the session tag partner_id to read partner_feeds/<partner_id>/",
            ),
            "ImageRepository": (self.code.repository.repository_uri, "Push the code location's image here"),
            "Cluster": (self.code.cluster.cluster_name, "ECS cluster of the runs"),
            "TaskDefinitionFamily": (self.code.family, "Every run's task definition"),
            "WakeTaskDefinitionFamily": (self.code.wake_family, "The task a trigger starts: the Dagster daemon"),
            "TaskSubnets": (
                ",".join(s.subnet_id for s in self.network.vpc.public_subnets),
                "Subnets of the tasks (infra/ui.sh)",
            ),
            "TaskSecurityGroup": (self.network.tasks.security_group_id, "Security group of the tasks (infra/ui.sh)"),
            "RunLogs": (self.code.logs.log_group_name, "CloudWatch log group of the runs"),
            "InstanceDatabase": (self.database.instance.db_instance_endpoint_address, "Dagster's Postgres"),
            "InstanceDatabaseSecret": (self.database.secret.secret_arn, "Its credentials (Secrets Manager)"),
            "SparkApplication": (
                self.spark.application.attr_application_id,
                "EMR Serverless application of the marts on Spark",
            ),
            "SparkJobRole": (self.spark.job_role.role_arn, "The execution role of its dbt jobs (lake bucket only)"),
            "SparkJobDriver": (
                self.spark.job_driver(self.buckets),
                "The entry point a Spark run submits (docs/cloud.md)",
            ),
        }
        for supplier_id, role in self.suppliers.roles.items():
            outputs[f"SupplierRole{output_name(supplier_id)}"] = (
                role.role_arn,
                f"Supplier {supplier_id} assumes this role to read feeds/{supplier_id}/",
            )
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
