"""The FCFS waiting-order rule against the vectors the TypeScript engine also runs
(test/vectors/fcfs-waiting-order.json, read by test/waiting-order-vectors.test.ts)."""
import json
from pathlib import Path

import pytest

from vsched_emitter.order_rule import expected_order

VECTORS = json.loads((Path(__file__).parents[2] / "test" / "vectors" / "fcfs-waiting-order.json").read_text())["cases"]


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_expected_order(case):
    got = expected_order(case["previous"], case["arrivals"], set(case["removed"]), case["preempted"])
    assert got == case["expected"]


def test_vectors_cover_the_rule():
    assert len(VECTORS) >= 10
    assert any(len(c["preempted"]) > 1 for c in VECTORS)
    assert any(c["removed"] and c["removed"][0] != (c["previous"] + c["arrivals"])[0] for c in VECTORS)
