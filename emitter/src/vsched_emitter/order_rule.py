"""The documented FCFS waiting-order rule, as one pure function.

The emitter writes a step's `order` only when vLLM's real queue differs from this
expectation, and the CLI rebuilds the queue with the same rule (src/engine/waiting-queue.ts).
Both are run against test/vectors/fcfs-waiting-order.json.
"""


def expected_order(previous, arrivals, removed, preempted):
    """[preempted, reversed] + ([previous + arrivals] minus removed), as request ids."""
    base = [*previous, *arrivals] if arrivals else list(previous)
    drop = set(removed).intersection(base) if removed else None
    if drop:
        k = 0
        while k < len(base) and base[k] in drop:  # usual case: admitted from the head
            k += 1
        base = base[k:] if k == len(drop) else [rid for rid in base if rid not in drop]
    return [*reversed(preempted), *base] if preempted else base
