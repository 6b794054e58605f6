"""Where the code runs: the network, Dagster's Postgres, the image registry, the Fargate task
definition of the code location, and the AWS triggers that start runs.

Nothing here is always on but the database: a schedule or a landing file starts a Fargate
task (``python -m infra.wake ...``) that runs the Dagster daemon until the work is done, and
the instance's ECS run launcher gives every run a Fargate task of its own.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DeployConfig
from infra.storage import LANDING_PREFIX, LakeBuckets
from infra.suppress import accept

CONTAINER = "code"
RUN_USER = "10001:10001"  # the image's non-root user (infra/Dockerfile)
DAGSTER_HOME = "/opt/dagster/home"
COMPUTE_LOG_PREFIX = "_dagster/compute-logs"
WAKE_COMMAND = ["python", "-m", "infra.wake"]  # see infra/wake.py
PG_PORT = 5432


RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention that keeps logs at least ``days``."""
    return next((RETENTION[d] for d in sorted(RETENTION) if d >= days), logs.RetentionDays.TEN_YEARS)


def log_group(scope: Construct, construct_id: str, *, config: DeployConfig, key: kms.IKey, keep: bool) -> logs.LogGroup:
    """A CloudWatch log group encrypted with the platform key, kept for the configured retention."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=log_retention(config.log_retention_days),
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.RETAIN if keep else cdk.RemovalPolicy.DESTROY,
    )


class Network(Construct):
    """Two AZs: public subnets for the tasks (no NAT gateway to pay for), isolated ones for Postgres."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        flow_logs = log_group(self, "FlowLogs", config=config, key=key, keep=False)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            restrict_default_security_group=False,  # it would add a Lambda; nothing uses that group
            subnet_configuration=[
                ec2.SubnetConfiguration(name="tasks", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            flow_logs={
                "rejected": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        # tasks get a public IP to reach ECR, ECS, Logs and Secrets Manager without a NAT gateway
        # (about 35 USD a month); their security group admits no inbound traffic
        self.tasks = ec2.SecurityGroup(
            self, "Tasks", vpc=self.vpc, description="Supplyloop tasks: no inbound", allow_all_outbound=False
        )
        self.tasks.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs and S3 over TLS")
        self.database = ec2.SecurityGroup(
            self,
            "Database",
            vpc=self.vpc,
            description="Dagster instance storage: from tasks only",
            allow_all_outbound=False,
        )
        self.database.add_ingress_rule(self.tasks, ec2.Port.tcp(PG_PORT), "Dagster instance storage")
        self.tasks.add_egress_rule(self.database, ec2.Port.tcp(PG_PORT), "Dagster instance storage")


class InstanceDatabase(Construct):
    """Dagster's run, event and schedule storage: a small Postgres, credentials in Secrets Manager."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, network: Network, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = "dagster"
        self.instance = rds.DatabaseInstance(
            self,
            "Postgres",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9),
            instance_type=ec2.InstanceType(config.db_instance_class),
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[network.database],
            credentials=rds.Credentials.from_generated_secret("dagster", encryption_key=key),
            database_name=self.name,
            port=PG_PORT,
            allocated_storage=20,
            max_allocated_storage=100,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            storage_encryption_key=key,
            backup_retention=cdk.Duration.days(7),
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            deletion_protection=True,
            iam_authentication=True,
            publicly_accessible=False,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
        )
        self.secret = self.instance.secret
        accept(self.instance, "CKV_AWS_157", "Run history only, backed up daily; Multi-AZ would double its cost.")
        accept(self.instance, "CKV_AWS_118", "Enhanced monitoring is not worth its cost for a micro instance.")
        # not rotated automatically: rotation needs a Lambda with a path to Secrets Manager from
        # the isolated subnets (an interface endpoint); infra/README.md says how to rotate by hand


class CodeLocation(Construct):
    """The image registry, the cluster, and the Fargate task definition every run uses."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        network: Network,
        database: InstanceDatabase,
        buckets: LakeBuckets,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.family = f"{stack.stack_name}-run".lower()
        self.repository = ecr.Repository(
            self,
            "Images",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=key,
            lifecycle_rules=[ecr.LifecycleRule(description="keep the last 20 images", max_image_count=20)],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.cluster = ecs.Cluster(self, "Cluster", vpc=network.vpc, enable_fargate_capacity_providers=True)
        accept(
            self.cluster,
            "CKV_AWS_65",
            "Container Insights is billed per metric; task logs and Dagster's run history cover short batch tasks.",
        )
        self.logs = log_group(self, "Logs", config=config, key=key, keep=True)
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Supplyloop runs and the daemon that launches them",
        )
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="ECS: pull the image, write logs, read the instance database secret",
        )
        self.environment = {
            "LAKE_ROOT": buckets.lake_root(),
            "LANDING_ROOT": buckets.landing_root(),
            "FEEDS_ROOT": buckets.feeds_root(),
            "PARTNER_FEEDS_ROOT": buckets.partner_feeds_root(),
            "AWS_REGION": stack.region,
            "DAGSTER_HOME": DAGSTER_HOME,
            "DAGSTER_PG_HOST": database.instance.db_instance_endpoint_address,
            "DAGSTER_PG_PORT": str(PG_PORT),
            "DAGSTER_PG_DB": database.name,
            "DAGSTER_RUN_TASK_DEFINITION": self.family,
            "DAGSTER_RUN_CONTAINER": CONTAINER,
            "DAGSTER_COMPUTE_LOG_BUCKET": buckets.lake.bucket_name,
            "DAGSTER_COMPUTE_LOG_PREFIX": COMPUTE_LOG_PREFIX,
        }
        if config.sources_key:  # the platform's own sources file, uploaded beside the lake
            self.environment["SUPPLYLOOP_SOURCES"] = f"s3://{buckets.lake.bucket_name}/{config.sources_key}"
        self.secrets = {
            "DAGSTER_PG_USERNAME": ecs.Secret.from_secrets_manager(database.secret, "username"),
            "DAGSTER_PG_PASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
        }
        image = ecs.ContainerImage.from_ecr_repository(self.repository, config.image_tag)
        # every run: the ECS run launcher starts this definition with `dagster api execute_run ...`
        self.runs = self._task_definition(
            "Run", self.family, image, cpu=config.task_cpu, memory=config.task_memory_mib, config=config
        )
        # the daemon, woken by a trigger: no data passes through it, so it is small
        self.wake_family = f"{stack.stack_name}-wake".lower()
        self.wake = self._task_definition(
            "Wake",
            self.wake_family,
            image,
            cpu=config.wake_cpu,
            memory=config.wake_memory_mib,
            config=config,
            command=WAKE_COMMAND,
        )
        self._grant_task_role(buckets, key)

    def _task_definition(
        self,
        construct_id: str,
        family: str,
        image: ecs.ContainerImage,
        *,
        cpu: int,
        memory: int,
        config: DeployConfig,
        command: list[str] | None = None,
    ) -> ecs.FargateTaskDefinition:
        definition = ecs.FargateTaskDefinition(
            self,
            construct_id,
            family=family,
            cpu=cpu,
            memory_limit_mib=memory,
            ephemeral_storage_gib=config.task_storage_gib,
            task_role=self.task_role,
            execution_role=self.execution_role,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64,
            ),
        )
        definition.add_container(
            CONTAINER,
            container_name=CONTAINER,
            image=image,
            command=command,
            user=RUN_USER,
            essential=True,
            # dbt writes its target/ and logs/ beside the project, DuckDB spills to disk: the
            # root file system stays writable, and it lives only as long as the task
            readonly_root_filesystem=False,
            linux_parameters=ecs.LinuxParameters(self, f"{construct_id}Linux", init_process_enabled=True),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=construct_id.lower(), log_group=self.logs),
            environment=self.environment,
            secrets=self.secrets,
        )
        return definition

    def _grant_task_role(self, buckets: LakeBuckets, key: kms.IKey) -> None:
        """What runs may do: read landing, read and write the lake and feeds, launch runs as tasks."""
        role = self.task_role
        buckets.landing.grant_read(role)
        buckets.lake.grant_read_write(role)
        buckets.lake.grant_delete(role)
        buckets.feeds.grant_read_write(role)
        buckets.feeds.grant_delete(role)
        key.grant_encrypt_decrypt(role)
        stack = cdk.Stack.of(self)
        task_arns = stack.format_arn(service="ecs", resource="task", resource_name=f"{self.cluster.cluster_name}/*")
        # the ECS run launcher: each run a task of the runs' definition, in this cluster
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="LaunchRunsAsTasks",
                actions=["ecs:RunTask"],
                resources=[
                    stack.format_arn(service="ecs", resource="task-definition", resource_name=f"{self.family}:*")
                ],
                conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WatchRunTasks",
                actions=["ecs:DescribeTasks", "ecs:StopTask", "ecs:TagResource"],
                resources=[task_arns],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTaskConfig",
                # neither action supports resource-level permissions; both only read
                actions=["ecs:DescribeTaskDefinition", "ec2:DescribeNetworkInterfaces"],
                resources=["*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassRolesToRunTasks",
                actions=["iam:PassRole"],
                resources=[role.role_arn, self.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ExecSessions",
                # ECS Exec's channels, for the UI's port forwarding (infra/ui.sh); AWS offers no
                # resource scoping for them: who may open a session is decided by ecs:ExecuteCommand
                actions=[
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                resources=["*"],
            )
        )


class Triggers(Construct):
    """The daily schedule and the landing-file rule: each wakes Dagster in a Fargate task."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        network: Network,
        code: CodeLocation,
        buckets: LakeBuckets,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "Undelivered",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        accept(
            self.dead_letters,
            "CKV_AWS_27",
            "Encrypted at rest with SQS-managed keys; its messages are trigger events, no lake data, and a "
            "customer key would have to admit EventBridge and Scheduler in its key policy.",
        )
        subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
        self.daily = scheduler.Schedule(
            self,
            "Daily",
            description="The daily job: yesterday's deliveries into bronze, then the marts, gates and feeds.",
            schedule=scheduler.ScheduleExpression.expression(config.daily_cron, cdk.TimeZone.of(config.time_zone)),
            time_window=scheduler.TimeWindow.off(),
            target=scheduler_targets.EcsRunFargateTask(
                code.cluster,
                task_definition=code.wake,
                assign_public_ip=True,
                vpc_subnets=subnets,
                security_groups=[network.tasks],
                propagate_tags=True,
                dead_letter_queue=self.dead_letters,
                retry_attempts=3,
                max_event_age=cdk.Duration.hours(2),
            ),
        )
        self.landing = events.Rule(
            self,
            "FilesLanded",
            description="A delivered file starts a run for the days it changes.",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [buckets.landing.bucket_name]},
                    "object": {"key": [{"prefix": f"{LANDING_PREFIX}/"}]},
                },
            ),
        )
        self.landing.add_target(
            events_targets.EcsTask(
                cluster=code.cluster,
                task_definition=code.wake,
                assign_public_ip=True,
                subnet_selection=subnets,
                security_groups=[network.tasks],
                dead_letter_queue=self.dead_letters,
                retry_attempts=3,
                max_event_age=cdk.Duration.hours(2),
            )
        )
