"""Deployment settings from CDK context: suppliers are configuration, never code."""

from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, DeployConfig, Supplier, parse_suppliers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ()),
        ("", ()),
        ("SUP001", (Supplier("SUP001"),)),
        ("S" * 64, (Supplier("S" * 64),)),
        ("SUP001, SUP002=111122223333", (Supplier("SUP001"), Supplier("SUP002", "111122223333"))),
        (
            ["SUP001", {"id": "SUP002", "account": "111122223333"}],
            (Supplier("SUP001"), Supplier("SUP002", "111122223333")),
        ),
    ],
)
def test_suppliers_come_from_a_comma_list_or_a_context_list(raw, expected):
    assert parse_suppliers(raw) == expected


def test_suppliers_come_from_a_json_file(tmp_path):
    path = tmp_path / "suppliers.json"
    path.write_text(json.dumps(["SUP001", {"id": "SUP-east_2"}]))
    assert parse_suppliers(str(path)) == (Supplier("SUP001"), Supplier("SUP-east_2"))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("SUP 1", "cannot name a feed prefix"),
        ("SUP001/../x", "cannot name a feed prefix"),
        ("S" * 65, "cannot name a feed prefix"),
        ("SUP001=123", "12-digit AWS account id"),
        ("SUP001,SUP001", "listed twice"),
        ("missing.json", "no such file"),
    ],
)
def test_a_supplier_that_cannot_be_deployed_is_refused_with_the_reason(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_suppliers(raw)


def test_context_values_override_defaults_and_wrong_types_are_refused():
    context = {"taskCpu": "2048", "imageTag": "abc123", "suppliers": "SUP001"}
    config = DeployConfig.from_context(context.get)
    assert (config.task_cpu, config.image_tag, config.suppliers) == (2048, "abc123", (Supplier("SUP001"),))
    assert config.task_memory_mib == DeployConfig().task_memory_mib
    with pytest.raises(ConfigError, match="taskCpu"):
        DeployConfig.from_context({"taskCpu": "lots"}.get)


@pytest.mark.parametrize("ids", [("SUP-1", "SUP1"), ("SUP_1", "SUP-1"), ("a-b", "ab")])
def test_each_supplier_gets_its_own_stack_output_name(ids):
    from infra.stack import output_name

    names = [output_name(i) for i in ids]
    assert len(set(names)) == 2 and all(n.isalnum() for n in names)


@pytest.mark.parametrize("key", ["/config/sources.yaml", "../sources.yaml", "config/sources.json"])
def test_a_sources_key_that_is_no_yaml_file_in_the_lake_bucket_is_refused(key):
    with pytest.raises(ConfigError, match="sourcesKey"):
        DeployConfig.from_context({"sourcesKey": key}.get)
