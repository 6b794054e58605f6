"""The synthesized stack has the security properties the deployment promises."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.compute import CONTAINER, RUN_USER, WAKE_COMMAND
from orchestration.lib.paths import PROJECT_ROOT

DATA_BUCKETS = ("Landing", "Lake", "Feeds")
# actions AWS offers no resource-level permissions for: reads, and ECS Exec's session channels
# (who may open a session is decided by ecs:ExecuteCommand on the task)
UNSCOPED = {
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeNetworkInterfaces",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def _logical_id(synthesized, construct) -> str:
    return synthesized.stack.get_logical_id(construct.node.default_child)


def _bucket_ids(synthesized) -> dict[str, str]:
    buckets = synthesized.stack.buckets
    named = {name: getattr(buckets, name.lower()) for name in DATA_BUCKETS}
    named["AccessLogs"] = buckets.access_logs
    return {name: _logical_id(synthesized, b) for name, b in named.items()}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _policy_statements(synthesized):
    """Every statement of every identity and resource policy, with where it comes from."""
    for logical_id, resource in synthesized.template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        if resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
            documents.append(props["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, resource["Type"], statement


def _role_statements(synthesized, role) -> list[dict]:
    role_id = _logical_id(synthesized, role)
    statements = []
    for resource in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in resource["Properties"]["Roles"]:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_every_bucket_is_encrypted_versioned_and_closed_to_the_public(synthesized):
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert set(_bucket_ids(synthesized).values()) == set(buckets)
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], logical_id


def test_data_buckets_use_the_platform_key_and_log_access(synthesized):
    ids = _bucket_ids(synthesized)
    key_id = _logical_id(synthesized, synthesized.stack.key)
    for name in DATA_BUCKETS:
        props = synthesized.template["Resources"][ids[name]]["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", name
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}, name
        assert rule["BucketKeyEnabled"] is True, name
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": ids["AccessLogs"]}, name
    synthesized.assertions.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_every_bucket_refuses_requests_without_tls(synthesized):
    denied = set()
    for policy in synthesized.resources("AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                assert statement["Principal"] == {"AWS": "*"} and statement["Action"] == "s3:*"
                denied.add(policy["Properties"]["Bucket"]["Ref"])
    assert denied == set(_bucket_ids(synthesized).values())


def test_old_landing_files_age_out_and_feed_history_is_kept_for_a_year(synthesized):
    ids = _bucket_ids(synthesized)
    resources = synthesized.template["Resources"]

    def rules(name):
        return resources[ids[name]]["Properties"]["LifecycleConfiguration"]["Rules"]

    (landing,) = rules("Landing")
    assert landing["Status"] == "Enabled"
    assert landing["ExpirationInDays"] == 400
    assert landing["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
    (feeds,) = rules("Feeds")
    assert feeds["NoncurrentVersionExpiration"] == {"NoncurrentDays": 365}
    assert "ExpirationInDays" not in feeds  # a current feed never expires
    for name in (*DATA_BUCKETS, "AccessLogs"):
        assert all(r.get("AbortIncompleteMultipartUpload") for r in rules(name)), name


@pytest.mark.parametrize("supplier_id", ["SUP001", "SUP002"])
def test_each_supplier_lists_and_reads_only_its_own_feed_prefix(synthesized, supplier_id):
    role = synthesized.stack.suppliers.roles[supplier_id]
    feeds = _logical_id(synthesized, synthesized.stack.buckets.feeds)
    statements = {s["Sid"]: s for s in _role_statements(synthesized, role)}
    assert set(statements) == {"ReadOwnFeeds", "ListOwnFeeds", "DecryptFeedsThroughS3"}
    read = statements["ReadOwnFeeds"]
    assert read["Action"] == "s3:GetObject" and read["Effect"] == "Allow"
    assert read["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [feeds, "Arn"]}, f"/feeds/{supplier_id}/*"]]}
    listing = statements["ListOwnFeeds"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": [feeds, "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"feeds/{supplier_id}/", f"feeds/{supplier_id}/*"]}}
    decrypt = statements["DecryptFeedsThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt" and "kms:ViaService" in decrypt["Condition"]["StringEquals"]


def test_a_supplier_with_its_own_account_assumes_its_role_with_an_external_id(synthesized):
    trust = synthesized.template["Resources"][_logical_id(synthesized, synthesized.stack.suppliers.roles["SUP002"])][
        "Properties"
    ]["AssumeRolePolicyDocument"]["Statement"]
    (statement,) = trust
    assert "111122223333" in json.dumps(statement["Principal"])
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "supplyloop-SUP002"}}


def test_no_policy_allows_every_action_or_writes_to_every_resource(synthesized):
    for logical_id, _kind, statement in _policy_statements(synthesized):
        if statement["Effect"] != "Allow":
            continue
        actions = _as_list(statement.get("Action", []))
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), (logical_id, statement)
        if "*" in _as_list(statement.get("Resource", [])):
            assert set(actions) <= UNSCOPED, (logical_id, statement)


def test_runs_only_read_the_landing_zone(synthesized):
    landing = _logical_id(synthesized, synthesized.stack.buckets.landing)
    code = synthesized.stack.code
    for statement in _role_statements(synthesized, code.task_role):
        if landing in json.dumps(statement.get("Resource")):
            actions = _as_list(statement["Action"])
            assert all(a.startswith(("s3:Get", "s3:List")) for a in actions), statement


def test_logs_are_encrypted_and_kept_for_the_configured_retention(synthesized):
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert len(groups) == 2  # the runs' logs and the VPC flow logs
    for logical_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == 365, logical_id
        assert "KmsKeyId" in group["Properties"], logical_id


def test_the_daily_schedule_wakes_dagster_in_the_business_time_zone(synthesized):
    (schedule,) = synthesized.resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Asia/Shanghai"
    assert props["State"] == "ENABLED"
    target = props["Target"]
    assert target["EcsParameters"]["LaunchType"] == "FARGATE"
    assert target["EcsParameters"]["TaskDefinitionArn"] == {
        "Ref": _logical_id(synthesized, synthesized.stack.code.wake)
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert "DeadLetterConfig" in target


def test_a_file_landing_wakes_dagster_through_eventbridge(synthesized):
    landing = _logical_id(synthesized, synthesized.stack.buckets.landing)
    props = synthesized.template["Resources"][landing]["Properties"]
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    (rule,) = synthesized.resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"] == {"bucket": {"name": [{"Ref": landing}]}, "object": {"key": [{"prefix": "landing/"}]}}
    (target,) = rule["Properties"]["Targets"]
    assert target["EcsParameters"]["LaunchType"] == "FARGATE"
    assert target["EcsParameters"]["TaskDefinitionArn"] == {
        "Ref": _logical_id(synthesized, synthesized.stack.code.wake)
    }
    assert "DeadLetterConfig" in target


def test_images_are_scanned_on_push_with_immutable_tags(synthesized):
    synthesized.assertions.has_resource_properties(
        "AWS::ECR::Repository",
        {
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "ImageTagMutability": "IMMUTABLE",
            "EncryptionConfiguration": {"EncryptionType": "KMS"},
        },
    )


def _container(synthesized, definition) -> dict:
    resource = synthesized.template["Resources"][_logical_id(synthesized, definition)]
    assert resource["Properties"]["RequiresCompatibilities"] == ["FARGATE"]
    (container,) = resource["Properties"]["ContainerDefinitions"]
    return container


def test_the_woken_daemon_and_every_run_are_fargate_tasks_of_a_non_root_user(synthesized):
    code = synthesized.stack.code
    wake, run = _container(synthesized, code.wake), _container(synthesized, code.runs)
    assert wake["Command"] == WAKE_COMMAND and "Command" not in run  # the run launcher sets it
    for container in (wake, run):
        assert container["Name"] == CONTAINER and container["User"] == RUN_USER
        assert container["Image"]["Fn::Join"][1][-1].endswith(":test")  # the imageTag from context
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    env = {e["Name"]: e["Value"] for e in run["Environment"]}
    assert env["DAGSTER_RUN_TASK_DEFINITION"] == code.family
    assert {"LAKE_ROOT", "LANDING_ROOT", "FEEDS_ROOT", "DAGSTER_PG_HOST"} <= set(env)


def test_the_database_password_reaches_tasks_only_from_secrets_manager(synthesized):
    secret = _logical_id(synthesized, synthesized.stack.database.secret)
    for definition in (synthesized.stack.code.wake, synthesized.stack.code.runs):
        container = _container(synthesized, definition)
        assert not any("PASSWORD" in e["Name"] or "SECRET" in e["Name"] for e in container["Environment"])
        secrets = {s["Name"]: json.dumps(s["ValueFrom"]) for s in container["Secrets"]}
        assert set(secrets) == {"DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD"}
        assert all(secret in value for value in secrets.values())


def test_the_instance_database_is_private_encrypted_and_kept(synthesized):
    synthesized.assertions.has_resource_properties(
        "AWS::RDS::DBInstance",
        {"StorageEncrypted": True, "PubliclyAccessible": False, "DeletionProtection": True},
    )
    (ingress,) = synthesized.resources("AWS::EC2::SecurityGroupIngress").values()
    tasks = _logical_id(synthesized, synthesized.stack.network.tasks)
    assert ingress["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [tasks, "GroupId"]}
    assert ingress["Properties"]["FromPort"] == ingress["Properties"]["ToPort"] == 5432


def test_the_cloud_instance_config_reads_only_what_the_task_definition_sets(synthesized):
    import importlib

    config = yaml.safe_load((PROJECT_ROOT / "infra" / "dagster.yaml").read_text())
    wanted = set()

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"env"}:
                wanted.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    container = _container(synthesized, synthesized.stack.code.runs)
    provided = {e["Name"] for e in container["Environment"]} | {s["Name"] for s in container["Secrets"]}
    assert wanted and wanted <= provided, wanted - provided
    for section in ("run_launcher", "compute_logs"):
        cls = getattr(importlib.import_module(config[section]["module"]), config[section]["class"])
        assert set(config[section]["config"]) <= set(cls.config_type()), section
    from dagster_postgres import DagsterPostgresStorage

    assert set(config["storage"]["postgres"]["postgres_db"]) <= set(
        DagsterPostgresStorage.config_type()["postgres_db"].config_type.fields
    )


def test_every_task_reads_the_platforms_sources_file_from_the_lake_bucket(synthesized):
    from tests.infra.conftest import SOURCES_KEY

    lake = _logical_id(synthesized, synthesized.stack.buckets.lake)
    for definition in (synthesized.stack.code.wake, synthesized.stack.code.runs):
        env = {e["Name"]: e["Value"] for e in _container(synthesized, definition)["Environment"]}
        assert env["SUPPLYLOOP_SOURCES"] == {"Fn::Join": ["", ["s3://", {"Ref": lake}, f"/{SOURCES_KEY}"]]}


def test_every_partner_reads_only_its_own_prefix_through_one_role_by_its_session_tag(synthesized):
    """Attribute-based access: one role, scoped by the principal tag partner_id, for any number of partners."""
    role = synthesized.stack.partners.role
    roles = [r for r in synthesized.resources("AWS::IAM::Role").values() if "partner" in json.dumps(r).lower()]
    assert len(roles) == 1  # not a role per partner
    feeds = _logical_id(synthesized, synthesized.stack.buckets.feeds)
    statements = {s["Sid"]: s for s in _role_statements(synthesized, role)}
    assert set(statements) == {"ReadOwnPartnerFeed", "ListOwnPartnerFeed", "DecryptPartnerFeedsThroughS3"}
    own = "partner_feeds/${aws:PrincipalTag/partner_id}/"
    tagged = {"Null": {"aws:PrincipalTag/partner_id": "false"}}
    read = statements["ReadOwnPartnerFeed"]
    assert read["Action"] == "s3:GetObject" and read["Condition"] == tagged
    assert read["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [feeds, "Arn"]}, f"/{own}*"]]}
    listing = statements["ListOwnPartnerFeed"]
    assert listing["Action"] == "s3:ListBucket" and listing["Resource"] == {"Fn::GetAtt": [feeds, "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [own, f"{own}*"]}, **tagged}
    decrypt = statements["DecryptPartnerFeedsThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt" and "kms:ViaService" in decrypt["Condition"]["StringEquals"]


def test_a_partner_session_must_carry_its_partner_id_tag_and_no_other(synthesized):
    trust = synthesized.template["Resources"][_logical_id(synthesized, synthesized.stack.partners.role)]["Properties"][
        "AssumeRolePolicyDocument"
    ]["Statement"]
    (statement,) = trust
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringLike": {"aws:RequestTag/partner_id": "?*"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["partner_id"]},
    }


def test_the_runs_publish_partner_feeds_into_the_feeds_bucket(synthesized):
    outputs = synthesized.template["Outputs"]
    assert "PartnerFeedsRoot" in outputs and "PartnerReaderRole" in outputs
    assert "partner_feeds" in json.dumps(outputs["PartnerFeedsRoot"]["Value"])
