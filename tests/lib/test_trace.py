"""`supplyloop trace` without a built lake: what it takes, and what it says instead of a chain.

The traces themselves run on a built demo in tests/transforms/test_traceability.py."""

from __future__ import annotations

import pytest

from orchestration.lib.trace import TraceError, trace


@pytest.mark.parametrize(
    ("target", "key", "says"),
    [
        ("daily_nonsense", "x", "unknown mart or feed 'daily_nonsense'; trace one of: `supplyloop trace supplier_"),
        ("supplier_replenishment", "SKU0001", "takes a key <supplier>/<sku>, not 'SKU0001'"),
        ("supplier_replenishment", "SUP001/SKU0001", "is not built yet: run `supplyloop run`"),
        ("order_lines", "O1", "takes a key <order_id>/<line_no>"),
        ("order_lines", "O1/first", "the line number 'first' is not a whole number"),
        ("lots", "L1", "no lot 'L1' in marts/lots (no lots are built"),
        ("feeds/SUP001", "SKU0001", "feeds/SUP001 has no published feed"),
    ],
)
def test_a_trace_that_cannot_start_says_what_to_type_instead(lake, target, key, says):
    with pytest.raises(TraceError) as raised:
        trace(lake, target, key)
    assert says in str(raised.value)
