"""Clocks for the scheduler driver.

``VirtualClock`` replaces ``time.monotonic``/``monotonic_ns``/``time``/``time_ns`` process
wide while installed (restored on uninstall). Two notions of time:

* engine time: what the driver decides with (arrivals, aborts, model cost). It only moves
  when the driver advances it, so the emitter reading the clock can never change which
  requests have arrived by a step: scheduling is identical with and without the emitter.
* reads: each read returns ``base + engine time``, but never less than the previous read
  plus ``TICK_NS``, so every timestamp is distinct and strictly increasing. Reads are
  deterministic (same code path, same reads), hence byte-for-byte reproducible traces.

``RealClock`` uses the real clocks and sleeps the model cost.
"""
from __future__ import annotations

import time

EPOCH_BASE_NS = 1_700_000_000 * 10**9   # virtual wall clock at engine time 0
MONO_BASE_NS = 1_000 * 10**9            # virtual monotonic clock at engine time 0
TICK_NS = 1_000                         # each read advances the clock by at least 1 us

_PATCHED = ("monotonic", "monotonic_ns", "time", "time_ns")


class VirtualClock:
    virtual = True

    def __init__(self) -> None:
        self.engine_ns = 0
        self._last = MONO_BASE_NS - TICK_NS
        self._saved: dict[str, object] | None = None

    # -- reads (patched into the time module) --
    def monotonic_ns(self) -> int:
        v = MONO_BASE_NS + self.engine_ns
        if v <= self._last:
            v = self._last + TICK_NS
        self._last = v
        return v

    def monotonic(self) -> float:
        return self.monotonic_ns() / 1e9

    def time_ns(self) -> int:
        return self.monotonic_ns() - MONO_BASE_NS + EPOCH_BASE_NS

    def time(self) -> float:
        return self.time_ns() / 1e9

    # -- driver side --
    def engine_s(self) -> float:
        return self.engine_ns / 1e9

    def wall_at(self, engine_s: float) -> float:
        """Wall-clock seconds (as time.time() would say) at the given engine time."""
        return (EPOCH_BASE_NS + round(engine_s * 1e9)) / 1e9

    def advance_to(self, engine_s: float) -> None:
        ns = round(engine_s * 1e9)
        if ns > self.engine_ns:
            self.engine_ns = ns

    def install(self) -> None:
        if self._saved is not None:
            return
        self._saved = {name: getattr(time, name) for name in _PATCHED}
        for name in _PATCHED:
            setattr(time, name, getattr(self, name))

    def uninstall(self) -> None:
        if self._saved is None:
            return
        for name, fn in self._saved.items():
            setattr(time, name, fn)
        self._saved = None


class RealClock:
    virtual = False

    def __init__(self) -> None:
        self._mono0 = time.monotonic()
        self._wall0 = time.time()

    def engine_s(self) -> float:
        return time.monotonic() - self._mono0

    def wall_at(self, engine_s: float) -> float:
        return self._wall0 + engine_s

    def advance_to(self, engine_s: float) -> None:
        delay = engine_s - self.engine_s()
        if delay > 0:
            time.sleep(delay)

    def install(self) -> None:
        pass

    def uninstall(self) -> None:
        pass


def make_clock(kind: str):
    if kind == "virtual":
        return VirtualClock()
    if kind == "real":
        return RealClock()
    raise ValueError(f"clock must be 'virtual' or 'real', not {kind!r}")
