"""The marts on Spark in the cloud: an EMR Serverless application whose dbt jobs run as a role
held to the lake bucket and the project's Glue databases."""

from __future__ import annotations

import json

from infra.spark import EMR_RELEASE, GLUE_DATABASES


def _logical_id(synthesized, construct) -> str:
    return synthesized.stack.get_logical_id(construct.node.default_child)


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _job_role_statements(synthesized) -> list[dict]:
    role_id = _logical_id(synthesized, synthesized.stack.spark.job_role)
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_one_spark_application_starts_on_a_job_and_stops_when_idle(synthesized):
    (application,) = synthesized.resources("AWS::EMRServerless::Application").values()
    props = application["Properties"]
    assert props["Type"] == "SPARK"
    assert props["ReleaseLabel"] == EMR_RELEASE
    assert props["AutoStartConfiguration"] == {"Enabled": True}
    assert props["AutoStopConfiguration"]["Enabled"] is True
    assert props["MaximumCapacity"]["Cpu"]
    (defaults,) = props["RuntimeConfiguration"]
    assert "AWSGlueDataCatalogHiveClientFactory" in json.dumps(defaults)


def test_the_job_role_is_assumed_by_emr_serverless_of_this_account_only(synthesized):
    role = synthesized.template["Resources"][_logical_id(synthesized, synthesized.stack.spark.job_role)]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}


def test_the_job_role_reaches_the_lake_bucket_and_no_other_bucket(synthesized):
    buckets = synthesized.stack.buckets
    lake = _logical_id(synthesized, buckets.lake)
    others = {_logical_id(synthesized, b) for b in (buckets.landing, buckets.feeds, buckets.access_logs)}
    s3_resources = [
        json.dumps(statement["Resource"])
        for statement in _job_role_statements(synthesized)
        if any(action.startswith("s3:") for action in _actions(statement))
    ]
    assert s3_resources and all(lake in resource for resource in s3_resources)
    assert not any(other in resource for resource in s3_resources for other in others)


def test_the_job_role_keeps_its_tables_in_the_projects_glue_databases_only(synthesized):
    statements = _job_role_statements(synthesized)
    glue = [s for s in statements if any(a.startswith("glue:") for a in _actions(s))]
    assert glue
    allowed = (
        ":catalog",
        f":database/{GLUE_DATABASES}",
        ":database/default",
        f":table/{GLUE_DATABASES}/*",
        f":userDefinedFunction/{GLUE_DATABASES}/*",
    )
    for statement in glue:
        for resource in statement["Resource"]:
            tail = resource["Fn::Join"][1][-1]
            assert tail.endswith(allowed), tail
    assert not [s for s in statements if s["Resource"] == "*" or "*" in _actions(s)]


def test_the_stack_outputs_where_a_spark_run_goes(synthesized):
    outputs = synthesized.template["Outputs"]
    assert {"SparkApplication", "SparkJobRole", "SparkJobDriver"} <= set(outputs)
