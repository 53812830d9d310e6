"""The vsched CLI as run.py calls it: ``run(argv)`` gives what ``node bin/vsched.js ARGV`` exits
with and prints, as a ``subprocess.CompletedProcess``.

With ``dist/batch.js`` beside the CLI's ``dist/cli.js`` (src/cli/batch.ts), the commands run in
long-lived node processes, one per concurrent caller: a suite's ~600 converts and validates
would otherwise pay ~0.15 CPU-seconds each just to start node and load the bundle, about as
much as the conversions themselves. A CLI built before batch.js existed (``--cli`` of another
branch) is run one process per command, as before.
"""
from __future__ import annotations

import json
import queue
import subprocess
import tempfile
from pathlib import Path


class _Batch:
    """One ``node dist/batch.js``: a JSON job line in, a JSON result line out."""

    def __init__(self, batch_js: Path):
        self.batch_js = batch_js
        self._start()

    def _start(self) -> None:
        # stderr to a file: only a crash writes there (each job's output comes back in its
        # result line), and a pipe nobody reads could fill and stall the process
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["node", str(self.batch_js)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, encoding="utf-8")

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        try:
            self.proc.stdin.write(json.dumps({"argv": argv}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            # the process died on this job (an uncaught error, out of memory): report what the
            # CLI would have, its exit status and stderr, and go on with a fresh process
            rc = self.proc.wait()
            self.err.seek(0)
            stderr = self.err.read().decode("utf-8", errors="replace")
            self.close()
            self._start()
            return subprocess.CompletedProcess(argv, rc if rc != 0 else 3, "", stderr or f"batch.js exited {rc} without a result\n")
        r = json.loads(line)
        return subprocess.CompletedProcess(argv, r["exit"], r["stdout"], r["stderr"])

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait()
        self.proc.stdout.close()
        self.err.close()


class Cli:
    """``run(argv)`` from up to ``jobs`` threads at once; ``close()`` when done."""

    def __init__(self, cli_js: Path, jobs: int):
        self.cli_js = cli_js
        batch_js = cli_js.parent.parent / "dist" / "batch.js"
        self.batched = batch_js.exists()
        self._idle: queue.Queue[_Batch] = queue.Queue()
        for _ in range(jobs if self.batched else 0):
            self._idle.put(_Batch(batch_js))
        self._all = list(self._idle.queue)

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        if not self.batched:
            return subprocess.run(["node", str(self.cli_js), *argv], capture_output=True, text=True)
        b = self._idle.get()
        try:
            return b.run(argv)
        finally:
            self._idle.put(b)

    def close(self) -> None:
        for b in self._all:
            b.close()
