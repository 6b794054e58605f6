"""What a deployment may change without a code edit: CDK context (`cdk.json`, `-c key=value`).

A platform's own sources file (`supplyloop onboard` proposes one) is a context value too:
`-c sourcesKey=config/sources.yaml` makes every task read `s3://<lake bucket>/config/sources.yaml`
(upload the reviewed file there); unset, the tasks run the demo's sources.

Suppliers come from here too, so a new supplier is a context change, never a code change:

    -c suppliers=SUP001,SUP002                    roles assumed from this account (a portal, an operator)
    -c suppliers=SUP001=111122223333,SUP002       SUP001's own AWS account assumes its role
    -c suppliers=suppliers.json                   a file: ["SUP001", {"id": "SUP002", "account": "..."}]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPLIER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # as the feeds require
ACCOUNT_ID = re.compile(r"^\d{12}$")


class ConfigError(ValueError):
    """A context value the stack cannot use; the message says which and what is expected."""


@dataclass(frozen=True)
class Supplier:
    """A supplier that reads its own feeds: its id (the feed prefix) and who may assume its role."""

    supplier_id: str
    account: str | None = None  # None: principals of the deploying account (a portal vending access)

    def __post_init__(self) -> None:
        if not SUPPLIER_ID.match(self.supplier_id):
            raise ConfigError(
                f"supplier id {self.supplier_id!r} cannot name a feed prefix and an IAM role: "
                "use 1-64 letters, digits, '-' and '_', starting with a letter or digit"
            )
        if self.account is not None and not ACCOUNT_ID.match(self.account):
            raise ConfigError(f"supplier {self.supplier_id}: account {self.account!r} is not a 12-digit AWS account id")


@dataclass(frozen=True)
class DeployConfig:
    """The deployment's settings, each with a default fit for a small platform."""

    suppliers: tuple[Supplier, ...] = ()
    image_tag: str = "latest"
    task_cpu: int = 1024  # Fargate CPU units (1024 = 1 vCPU)
    task_memory_mib: int = 4096
    task_storage_gib: int = 30
    wake_cpu: int = 512  # the daemon's task, woken by a trigger
    wake_memory_mib: int = 2048
    daily_cron: str = "cron(0 2 * * ? *)"  # the daily job, after the night's deliveries
    time_zone: str = "Asia/Shanghai"  # the business day the partitions follow
    log_retention_days: int = 365
    landing_retention_days: int = 400  # delivered files stay replayable for a year and more
    feed_history_days: int = 365  # earlier versions of each published feed
    db_instance_class: str = "t4g.micro"
    sources_key: str | None = None  # the platform's sources file, a key in the lake bucket

    def __post_init__(self) -> None:
        key = self.sources_key
        if key is not None and (key.startswith("/") or ".." in key.split("/") or not key.endswith((".yaml", ".yml"))):
            raise ConfigError(
                f"context sourcesKey={key!r}: expected the key of a YAML file in the lake bucket, "
                "e.g. config/sources.yaml"
            )

    @classmethod
    def from_context(cls, get: Any) -> DeployConfig:
        """Read settings with ``get(key)`` (a construct's ``node.try_get_context``)."""

        def value(key: str, default: Any, kind: type = str) -> Any:
            raw = get(key)
            if raw is None or raw == "":
                return default
            try:
                return kind(raw)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"context {key}={raw!r}: expected {kind.__name__}") from e

        base = cls()
        return cls(
            suppliers=parse_suppliers(get("suppliers")),
            image_tag=value("imageTag", base.image_tag),
            task_cpu=value("taskCpu", base.task_cpu, int),
            task_memory_mib=value("taskMemoryMiB", base.task_memory_mib, int),
            task_storage_gib=value("taskStorageGiB", base.task_storage_gib, int),
            wake_cpu=value("wakeCpu", base.wake_cpu, int),
            wake_memory_mib=value("wakeMemoryMiB", base.wake_memory_mib, int),
            daily_cron=value("dailyCron", base.daily_cron),
            time_zone=value("timeZone", base.time_zone),
            log_retention_days=value("logRetentionDays", base.log_retention_days, int),
            landing_retention_days=value("landingRetentionDays", base.landing_retention_days, int),
            feed_history_days=value("feedHistoryDays", base.feed_history_days, int),
            db_instance_class=value("dbInstanceClass", base.db_instance_class),
            sources_key=value("sourcesKey", base.sources_key),
        )


def parse_suppliers(raw: Any) -> tuple[Supplier, ...]:
    """Suppliers from a comma list (``ID`` or ``ID=ACCOUNT``), a list, or a JSON file's path."""
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str) and raw.strip().endswith(".json"):
        path = Path(raw.strip())
        if not path.is_file():
            raise ConfigError(f"context suppliers={raw!r}: no such file (a JSON list of ids or objects)")
        raw = json.loads(path.read_text())
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    suppliers = []
    for item in items:
        if isinstance(item, dict):
            suppliers.append(Supplier(str(item.get("id", "")).strip(), item.get("account") or None))
            continue
        text = str(item).strip()
        if not text:
            continue
        supplier_id, _, account = text.partition("=")
        suppliers.append(Supplier(supplier_id.strip(), account.strip() or None))
    seen = set()
    for s in suppliers:
        if s.supplier_id in seen:
            raise ConfigError(f"supplier {s.supplier_id} is listed twice in context suppliers")
        seen.add(s.supplier_id)
    return tuple(suppliers)
