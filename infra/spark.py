"""The marts on Apache Spark in the cloud: an EMR Serverless application that runs dbt with the
spark target (DBT_TARGET=spark, dbt-spark's session method) as a Spark job over the lake.

The same models and the same session profile as `DBT_TARGET=spark` on a laptop; only where
Spark runs changes. The job's driver is a Python entry point that calls dbt in the driver
process (docs/cloud.md, "The marts on Spark: EMR Serverless"), so dbt's session is the job's
own SparkSession, with the Glue Data Catalog as its metastore and the lake bucket as its
warehouse. Nothing runs, and nothing is billed, between jobs: the application starts on a
job's submission and stops when idle.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_emrserverless as emrs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.storage import LAKE_PREFIX, LakeBuckets

# Spark 3.5 on Amazon Linux 2023; dbt-spark 1.11's session method runs on it as on pyspark 4
EMR_RELEASE = "emr-7.9.0"
# where the job's files live in the lake bucket: the dbt project, its Python environment and
# the driver (SPARK_JOB_PREFIX/...), and Spark's event logs (.../logs/)
SPARK_JOB_PREFIX = "spark-job"
# the Glue databases the job may create and write: the bronze tables and the layers
# (supplyloop_bronze, supplyloop_staging, supplyloop_intermediate, supplyloop_marts)
GLUE_DATABASES = "supplyloop*"


class SparkMarts(Construct):
    """An EMR Serverless Spark application and the role its dbt jobs run as, held to the lake."""

    def __init__(self, scope: Construct, construct_id: str, *, buckets: LakeBuckets, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.application = emrs.CfnApplication(
            self,
            "Application",
            name=f"{stack.stack_name}-marts",
            release_label=EMR_RELEASE,
            type="SPARK",
            architecture="ARM64",
            auto_start_configuration=emrs.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emrs.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=15
            ),
            # a ceiling on what a runaway job can cost: a driver and a few executors
            maximum_capacity=emrs.CfnApplication.MaximumAllowedResourcesProperty(
                cpu="16 vCPU", memory="64 GB", disk="200 GB"
            ),
            monitoring_configuration=emrs.CfnApplication.MonitoringConfigurationProperty(
                s3_monitoring_configuration=emrs.CfnApplication.S3MonitoringConfigurationProperty(
                    log_uri=buckets.lake.s3_url_for_object(f"{SPARK_JOB_PREFIX}/logs/"),
                    encryption_key_arn=key.key_arn,
                )
            ),
            runtime_configuration=[
                # the Glue Data Catalog as the session's metastore: the tables outlive the job,
                # and Athena sees the same ones
                emrs.CfnApplication.ConfigurationObjectProperty(
                    classification="spark-defaults",
                    properties={
                        "spark.hadoop.hive.metastore.client.factory.class": (
                            "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
                        ),
                        "spark.sql.warehouse.dir": f"s3://{buckets.lake.bucket_name}/{LAKE_PREFIX}/spark/warehouse",
                        "spark.sql.session.timeZone": "Asia/Shanghai",
                    },
                )
            ],
        )
        self.job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal(
                "emr-serverless.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": self.application_arn_pattern()},
                },
            ),
            description="Supplyloop: the marts' dbt jobs on EMR Serverless; the lake bucket and the supplyloop Glue databases only",
        )
        self._grant_job_role(buckets, key)

    def application_arn_pattern(self) -> str:
        return cdk.Stack.of(self).format_arn(
            service="emr-serverless",
            resource="/applications",
            resource_name="*",
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

    def _grant_job_role(self, buckets: LakeBuckets, key: kms.IKey) -> None:
        """What a job may do: read and write the lake bucket (bronze in, marts and logs out), and
        keep its tables in the supplyloop databases of the Glue catalog. Nothing else."""
        role = self.job_role
        buckets.lake.grant_read_write(role)
        buckets.lake.grant_delete(role)  # a table rebuilt in full replaces its files
        key.grant_encrypt_decrypt(role)
        stack = cdk.Stack.of(self)
        glue = lambda resource, name: stack.format_arn(  # noqa: E731
            service="glue", resource=resource, resource_name=name, arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="MartsCatalog",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:CreateDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:DeleteTable",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                    "glue:CreatePartition",
                    "glue:BatchCreatePartition",
                    "glue:DeletePartition",
                    "glue:BatchDeletePartition",
                    "glue:UpdatePartition",
                    "glue:GetUserDefinedFunctions",
                ],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    glue("database", GLUE_DATABASES),
                    glue("database", "default"),  # Spark's session opens in it
                    glue("table", f"{GLUE_DATABASES}/*"),
                    glue("userDefinedFunction", f"{GLUE_DATABASES}/*"),
                ],
            )
        )

    def job_driver(self, buckets: LakeBuckets) -> str:
        """The driver script a run submits (docs/cloud.md): dbt with the spark target in the job."""
        return buckets.lake.s3_url_for_object(f"{SPARK_JOB_PREFIX}/run_dbt.py")
