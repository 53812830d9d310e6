"""Background writer: the scheduler thread only enqueues tuples; this thread serialises
and writes them, and never lets an I/O error reach the scheduler (a record that cannot be
written is dropped and counted).

Two kinds of flush:

* hand-off: buffered bytes go to the OS with write() at least every ``HANDOFF_SECONDS``
  while records arrive. A killed process (vLLM SIGKILLs its engine core; OOM killer) then
  loses at most that much: the kernel keeps what was written.
* durable: flush and ``os.fsync`` every N step records or S seconds (seed 000's
  100 steps / 60 s), after ``IDLE_FLUSH_SECONDS`` of quiet, and at close: what survives
  a machine crash.

The hand-off is a ``collections.deque`` (append and popleft are atomic under the GIL): the
producer appends; only a ``step`` record also wakes the writer (once per schedule(), as
vLLM turns to running the model), and otherwise the writer looks at the queue every
``POLL_SECONDS``. Every wake-up costs the writer a GIL acquisition: polling every 5 ms made
it half of the writer's CPU (bench/emitter_overhead.py), and waking it on every record
asked for the GIL right as the scheduler carried on; a wake per step lets it work while
the model runs, on the update and arrivals before and the step just written.
``values`` may be a ``records.Deferred``: the writer builds the tuple from data that cannot
change after the hook ran (SchedulerOutput dicts, EngineCoreOutput lists).

The flush timer uses ``time.perf_counter`` on purpose: the harness replaces
``time.monotonic``/``time.time`` with a virtual clock, and reads from this thread must
not disturb it (``queue.Queue`` and ``threading`` bind their own monotonic at import).
"""
from __future__ import annotations

import gzip
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from . import records
from .console import ConsoleStats

logger = logging.getLogger("vsched_emitter")

_STOP = ("__stop__", None)

#: flush when no record has arrived for this long (the scheduler went idle)
IDLE_FLUSH_SECONDS = 1.0
#: how often the writer looks at an empty buffer
POLL_SECONDS = 0.02
#: longest a written record stays in user space before write() hands it to the OS (the
#: brief: at least every ~100 ms; half that leaves room for a step and a busy machine)
HANDOFF_SECONDS = 0.05


class Writer:
    def __init__(self, path: Path, *, use_gzip: bool, flush_steps: int, flush_seconds: float,
                 max_buffered: int, encoder=None, console_seconds: float = 0.0):
        self.path = path
        self.flush_steps = flush_steps
        self.flush_seconds = flush_seconds
        self.max_buffered = max_buffered
        self.queue: deque = deque()
        # interned.Encoder (schema 1.3) or None: the resolved form (records.encode)
        self.encoder = encoder
        # console.ConsoleStats or None: sees every record here, off the scheduler thread
        self.console = ConsoleStats(console_seconds) if console_seconds > 0 else None
        self._wake = threading.Event()  # set by a step record and by close()
        raw = open(path, "wb", buffering=1 << 20)
        # mtime=0 and no file name keep gzip output reproducible.
        self._file = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if use_gzip else raw
        self._raw = raw
        # Counters: `buffer_dropped` is written by the producer, the rest by this thread.
        self.buffer_dropped = 0
        self._pending_dropped = 0
        self.write_dropped = 0
        self.written = 0
        self._io_error_logged = False
        self._room = threading.Event()  # close() waiting for room: a private, never-set event
        self._thread = threading.Thread(target=self._run, name="vsched-writer", daemon=True)
        self._thread.start()

    # ---- producer side (scheduler thread) -------------------------------------------
    def put(self, kind: str, values, now_rel=None) -> None:
        """Enqueue without blocking; count what does not fit. Never raises."""
        q = self.queue
        if self._pending_dropped:
            if len(q) >= self.max_buffered:
                self._pending_dropped += 1
                self.buffer_dropped += 1
                return
            q.append(("dropped", (now_rel() if now_rel else 0, self._pending_dropped)))
            self._pending_dropped = 0
        if len(q) >= self.max_buffered:
            self._pending_dropped += 1
            self.buffer_dropped += 1
        else:
            q.append((kind, values))
            if kind == "step":
                self._wake.set()

    def _put_waiting(self, item, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while len(self.queue) >= self.max_buffered:
            if not self._thread.is_alive() or time.perf_counter() >= deadline:
                return False
            self._room.wait(POLL_SECONDS)
        self.queue.append(item)
        self._wake.set()
        return True

    def close(self, end_values, timeout: float = 10.0) -> None:
        """Enqueue the end record (waiting for room), stop the thread, close the file."""
        if not self._put_waiting(("end", end_values), timeout):
            logger.warning("vsched: writer queue still full at shutdown; trace has no end record")
        self._put_waiting(_STOP, timeout)
        self._thread.join(timeout)

    @property
    def dropped(self) -> int:
        return self.buffer_dropped + self.write_dropped

    # ---- consumer side (writer thread) ----------------------------------------------
    def _write(self, data: bytes) -> None:
        self._file.write(data)

    def _flush(self) -> None:
        """Hand what is buffered to the OS (write()); gzip: a sync flush of the compressor."""
        try:
            self._file.flush()
            if self._file is not self._raw:
                self._raw.flush()
        except Exception as e:  # disk full on flush: what was buffered is lost
            self._io_failed(e)

    def _sync(self) -> None:
        """The durable flush: hand off, then fsync."""
        self._flush()
        try:
            os.fsync(self._raw.fileno())
        except Exception as e:  # a pipe or a file system without fsync: the hand-off stands
            self._io_failed(e)

    def _observe(self, kind, values):
        """Feed the console line; a failure turns it off, never the trace."""
        try:
            if kind == "step" or kind == "update":
                if type(values) is records.Deferred and self.encoder is None:
                    values = values.build()  # the plain encoder would build it anyway
                self.console.observe(kind, values.build() if type(values) is records.Deferred else values)
            else:
                self.console.observe(kind, values)
        except Exception as e:
            self.console = None
            logger.warning("vsched: console line off after an error (%s); the trace goes on", e)
        return values

    def _io_failed(self, e: BaseException) -> None:
        if not self._io_error_logged:
            self._io_error_logged = True
            logger.warning("vsched: cannot write %s (%s); records are dropped and counted",
                           self.path, e)

    def _run(self) -> None:
        q = self.queue
        popleft = q.popleft
        wake = self._wake
        deferred = records.Deferred
        encoder = self.encoder
        encode = encoder.encode if encoder is not None else None
        perf = time.perf_counter
        steps_since_flush = 0
        dirty = False    # written since the last durable flush
        pending = False  # written since the last hand-off to the OS
        last_flush = last_handoff = perf()
        while True:
            try:
                if not q:
                    now = perf()
                    wait = max(0.05, self.flush_seconds - (now - last_flush))
                    if dirty:
                        # vLLM SIGKILLs the engine core at shutdown before Scheduler.shutdown()
                        # runs; a scheduler that has gone quiet must already be on disk.
                        wait = min(wait, IDLE_FLUSH_SECONDS)
                    if pending:
                        wait = min(wait, max(0.0, HANDOFF_SECONDS - (now - last_handoff)))
                    idle_until = now + wait
                    while not q and perf() < idle_until:
                        if wake.wait(min(POLL_SECONDS, max(0.0, idle_until - perf()))):
                            wake.clear()
                    if not q:
                        now = perf()
                        if pending:
                            self._flush()
                            pending = False
                            last_handoff = now
                            continue
                        if dirty:
                            self._sync()
                            dirty = False
                        last_flush = now
                        continue
                kind, values = popleft()
                if kind == _STOP[0]:
                    break
                if kind == "end":
                    t, steps, buffer_dropped = values
                    values = (t, steps, self.written, buffer_dropped + self.write_dropped)
                if self.console is not None:
                    values = self._observe(kind, values)
                try:
                    if encode is not None:
                        data = encode(kind, values)
                    else:
                        if type(values) is deferred:
                            values = values.build()
                        data = records.encode(kind, values)
                    self._write(data)
                    self.written += 1
                    dirty = pending = True
                except Exception as e:
                    self.write_dropped += 1
                    if encoder is not None:
                        encoder.lost()
                    self._io_failed(e)
                if kind == "step":
                    steps_since_flush += 1
                now = perf()
                if dirty and (steps_since_flush >= self.flush_steps or now - last_flush >= self.flush_seconds
                              or kind == "end"):
                    self._sync()
                    dirty = pending = False
                    steps_since_flush = 0
                    last_flush = last_handoff = now
                elif pending and now - last_handoff >= HANDOFF_SECONDS:
                    self._flush()
                    pending = False
                    last_handoff = now
            except Exception as e:  # never let the thread die silently
                self._io_failed(e)
        self._sync()
        try:
            self._file.close()
            if self._file is not self._raw:
                self._raw.close()
        except Exception as e:
            self._io_failed(e)
