"""One partition per supplier, named by its id in master data: a new supplier needs no code change."""

import dagster as dg

from orchestration.lib.alerts import alert
from orchestration.lib.feeds import supplier_ids
from orchestration.lib.lake import LakeStore

suppliers = dg.DynamicPartitionsDefinition(name="suppliers")


def suppliers_with_feeds(store: LakeStore) -> list[str]:
    """The suppliers in master data; an id that cannot name a feed folder is alerted and left out."""
    valid, invalid = supplier_ids(store)
    for bad in invalid:
        alert(
            f"supplier id {bad[:80]!r} in the suppliers master data cannot name a feed folder, so it gets no "
            "feed: correct it to 1-64 letters, digits, '_' or '-'",
            supplier_id=bad[:80],
        )
    return valid


def register_suppliers(instance: dg.DagsterInstance, store: LakeStore) -> list[str]:
    """Add the master data's new suppliers as partitions; returns every supplier that has a feed."""
    valid = suppliers_with_feeds(store)
    known = set(instance.get_dynamic_partitions(suppliers.name))
    new = [s for s in valid if s not in known]
    if new:
        instance.add_dynamic_partitions(suppliers.name, new)
    return valid
