"""pytest plugin for running vLLM's own scheduler tests with and without the vsched emitter.

Loaded with ``-p pytest_vsched_suite`` (this directory on PYTHONPATH) by ``run.py``; it never
skips, deselects or marks a test. Options:

``--vsched-mode off|on``
    ``off``: the emitter is not enabled (``VLLM_SCHEDULER_*`` removed from the environment).
    ``on``: ``VLLM_SCHEDULER_LOGGING=1`` and vLLM's own plugin loader
    (``vllm.plugins.load_general_plugins()``, the ``vllm.general_plugins`` entry point ``vsched``
    = ``vsched_emitter.plugin:register``), exactly what ``vllm serve`` does in each process.
    Both modes call the loader, so the flag is the only difference.
``--vsched-traces DIR``
    (on) each test's schedulers write into ``DIR/<test id made a file name>/``. At teardown the
    sessions the test opened are closed, as the interpreter's atexit would close them: a test
    is one engine lifetime, and the next test must not find its writer threads still polling.
``--vsched-results FILE``
    one JSON object: ``{"mode", "emitter", "tests": {nodeid: {"outcome", "phase", "message",
    "trace_dir"}}}``; outcome is passed / failed / error (setup or teardown failed) / skipped
    (by vLLM's own ``skipif``; this plugin skips nothing).

It also provides ``caplog_vllm``, the one fixture these tests take from vLLM's root
``tests/conftest.py`` (which is not extracted: see fetch.py): caplog with vLLM's logger
propagating to the root logger, at INFO.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path

import pytest

_PREFIX = "VLLM_SCHEDULER_"
_names: dict[str, str] = {}
_state: dict = {"mode": "off", "traces": None, "results": None, "tests": {}, "emitter": None}


def pytest_sessionstart(session):
    _state["t0"] = time.monotonic()


def pytest_addoption(parser):
    g = parser.getgroup("vsched")
    g.addoption("--vsched-mode", choices=("off", "on"), default="off")
    g.addoption("--vsched-traces", default=None)
    g.addoption("--vsched-results", default=None)


def trace_dir_name(nodeid: str) -> str:
    """A directory name for a test id, free of shell glob characters:
    ``tests/v1/core/test_x.py::test_y[a-b]`` -> ``test_x__test_y.a-b``; a name already taken by
    another test id gets a hash suffix."""
    path, _, rest = nodeid.partition("::")
    name = Path(path).stem + "__" + rest.replace("::", "__")
    name = re.sub(r"[^A-Za-z0-9._=+-]", "_", name.replace("[", ".").replace("]", ""))[:150]
    owner = _names.setdefault(name, nodeid)
    if owner != nodeid:
        name += "-" + hashlib.sha1(nodeid.encode()).hexdigest()[:8]
    return name


def _waive_triton_for_cpu_configs() -> None:
    """vLLM >= 0.34's CpuPlatform refuses every VllmConfig on an x86 CPU without triton-cpu
    (its model runner needs it). The scheduler tests run no model: while the platform checks a
    config, vllm.triton_utils.HAS_TRITON reads True. Both runs (emitter off and on) get this, so
    the emitter stays the only difference; versions without the check are left alone."""
    import inspect

    try:
        from vllm.platforms.cpu import CpuPlatform
        import vllm.triton_utils as triton_utils
    except Exception:
        return
    check = CpuPlatform.__dict__.get("check_and_update_config")
    if check is None or "requires Triton" not in inspect.getsource(check.__func__):
        return
    original = check.__func__

    def check_and_update_config(cls, vllm_config):
        saved = triton_utils.HAS_TRITON
        triton_utils.HAS_TRITON = True
        try:
            return original(cls, vllm_config)
        finally:
            triton_utils.HAS_TRITON = saved
    CpuPlatform.check_and_update_config = classmethod(check_and_update_config)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    mode = config.getoption("--vsched-mode")
    _state["mode"] = mode
    _state["results"] = config.getoption("--vsched-results")
    for name in [n for n in os.environ if n.startswith(_PREFIX)]:
        del os.environ[name]
    if mode == "on":
        traces = config.getoption("--vsched-traces")
        if not traces:
            raise pytest.UsageError("--vsched-mode on needs --vsched-traces DIR")
        _state["traces"] = Path(traces)
        os.environ[_PREFIX + "LOGGING"] = "1"
        os.environ[_PREFIX + "LOG_DIR"] = str(Path(traces) / "_outside_tests")
    for name in ("cpu_test", "skip_global_cleanup", "slow_test", "core_model", "cpu_model",
                 "hybrid_model", "split", "distributed", "optional"):
        config.addinivalue_line("markers", f"{name}: vLLM's marker")
    _waive_triton_for_cpu_configs()
    from vllm.plugins import load_general_plugins

    load_general_plugins()
    import vsched_emitter
    from vsched_emitter import hooks

    _state["emitter"] = str(Path(vsched_emitter.__file__).parent)
    expected = os.environ.get("VSCHED_SUITE_EMITTER")
    if expected and Path(expected).resolve() != Path(_state["emitter"]).resolve():
        raise pytest.UsageError(f"imported vsched_emitter from {_state['emitter']}, expected {expected}")
    if mode == "on" and not (hooks.is_installed() or hooks.is_pending()):
        raise pytest.UsageError("vLLM's plugin loader did not register vsched (entry point missing?)")
    if mode == "off" and (hooks.is_installed() or hooks.is_pending()):
        raise pytest.UsageError("the emitter is installed although --vsched-mode off")


@pytest.fixture(autouse=True)
def _vsched_trace_dir(request, monkeypatch):
    if _state["mode"] != "on":
        yield
        return
    from vsched_emitter import hooks

    d = _state["traces"] / trace_dir_name(request.node.nodeid)
    monkeypatch.setenv(_PREFIX + "LOG_DIR", str(d))
    _state["tests"].setdefault(request.node.nodeid, {})["trace_dir"] = d.name
    yield
    hooks.close_all()


@pytest.fixture()
def caplog_vllm(caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("vllm"), "propagate", True)
    try:
        from vllm.logger import DEFAULT_LOGGING_CONFIG

        # a later logging (re)configuration would turn propagation off mid-test
        monkeypatch.setitem(DEFAULT_LOGGING_CONFIG["loggers"]["vllm"], "propagate", True)
    except (ImportError, KeyError, TypeError):
        pass
    with caplog.at_level(logging.INFO):
        yield caplog


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def pytest_runtest_logreport(report):
    entry = _state["tests"].setdefault(report.nodeid, {})
    entry["seconds"] = round(entry.get("seconds", 0.0) + report.duration, 3)
    if report.when == "call" or report.failed or report.skipped:
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        else:
            outcome = "skipped" if report.skipped else "passed"
        if entry.get("outcome") in (None, "passed") or outcome in ("failed", "error"):
            entry.update(outcome=outcome, phase=report.when,
                         message=_message(report) if outcome != "passed" else "")


def pytest_sessionfinish(session, exitstatus):
    if _state["mode"] == "on":
        from vsched_emitter import hooks

        hooks.close_all()
    if _state["results"]:
        tests = {k: v for k, v in _state["tests"].items() if "outcome" in v}
        Path(_state["results"]).write_text(json.dumps(
            {"mode": _state["mode"], "emitter": _state["emitter"], "exitstatus": int(exitstatus),
             "seconds": round(time.monotonic() - _state.get("t0", time.monotonic()), 1),
             "tests": tests}, indent=1, sort_keys=True) + "\n")
