"""install/uninstall/register contracts and the environment settings."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vsched_emitter import env, hooks, plugin
from vsched_emitter.env import Settings
from vsched_emitter.harness.driver import SchedulerKnobs, build_scheduler


@pytest.fixture
def clean_hooks():
    hooks.uninstall()
    yield
    hooks.uninstall()


def _classes():
    from vllm.v1.core.sched.async_scheduler import AsyncScheduler
    from vllm.v1.core.sched.scheduler import Scheduler

    return Scheduler, AsyncScheduler


def test_uninstall_restores_the_original_methods(clean_hooks, tmp_path):
    Scheduler, AsyncScheduler = _classes()
    before = dict(Scheduler.__dict__)
    before_async = dict(AsyncScheduler.__dict__)
    assert hooks.install(Settings(enabled=True, log_dir=tmp_path))
    patched = hooks.patched_names()
    assert {"__init__", "schedule", "update_from_output", "add_request", "finish_requests",
            "_free_request"} <= patched
    assert ("_preempt_request" in patched) == hasattr(Scheduler, "_preempt_request")
    for name in patched:
        assert Scheduler.__dict__[name] is not before[name]
        assert Scheduler.__dict__[name].__wrapped__ is before[name]
    wrappers = {n: Scheduler.__dict__[n] for n in patched}
    assert hooks.install(Settings(enabled=True, log_dir=tmp_path / "other"))  # settings only
    assert {n: Scheduler.__dict__[n] for n in patched} == wrappers
    assert dict(AsyncScheduler.__dict__) == before_async  # subclasses inherit, never patched
    hooks.uninstall()
    assert dict(Scheduler.__dict__) == before
    assert not hooks.is_installed()
    sched = build_scheduler(SchedulerKnobs(num_blocks=32))  # not recorded after uninstall
    sched.shutdown()
    assert not list(tmp_path.rglob("vsched-*"))


def test_register_twice_is_harmless(clean_hooks, tmp_path, monkeypatch):
    Scheduler, _ = _classes()
    original = Scheduler.__dict__["schedule"]
    log_dir = tmp_path / "logs"
    monkeypatch.setenv(env.ENABLE, "1")
    monkeypatch.setenv(env.LOG_DIR, str(log_dir))
    plugin.register()
    first = Scheduler.__dict__["schedule"]
    plugin.register()
    assert Scheduler.__dict__["schedule"] is first and first.__wrapped__ is original
    assert not log_dir.exists()  # patched, but no Scheduler yet: nothing written
    sched = build_scheduler(SchedulerKnobs(num_blocks=32))
    sched.shutdown()
    files = list(log_dir.iterdir())
    assert len(files) == 1 and files[0].name == f"vsched-{os.getpid()}-dp0.jsonl"
    kinds = [json.loads(line)["type"] for line in files[0].read_text().splitlines()]
    assert kinds == ["header", "end"]


def test_register_disabled_or_failing_never_raises(clean_hooks, monkeypatch):
    monkeypatch.delenv(env.ENABLE, raising=False)
    plugin.register()
    assert not hooks.is_installed()
    monkeypatch.setenv(env.ENABLE, "1")
    monkeypatch.setenv(env.LEVEL, "off")
    plugin.register()
    assert not hooks.is_installed()
    monkeypatch.setenv(env.LEVEL, "full")

    def boom(settings=None):
        raise RuntimeError("cannot patch")

    monkeypatch.setattr(hooks, "install", boom)
    plugin.register()  # logs, returns
    assert not hooks.is_installed()


def test_a_process_without_a_scheduler_writes_nothing(tmp_path):
    """Real plugin path in a fresh process: vLLM loads the entry point, the hooks go in,
    no file appears until a Scheduler exists; one built and never shut down still gets
    its end record from atexit."""
    log_dir = tmp_path / "logs"
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import vllm.plugins
        vllm.plugins.load_general_plugins()
        vllm.plugins.plugins_loaded = False
        vllm.plugins.load_general_plugins()  # a second load, as vLLM does in several places
        from vsched_emitter import hooks
        # cheap: the scheduler module is not imported just to patch it
        assert "vllm.v1.core.sched.scheduler" not in sys.modules and hooks.is_pending()
        import vllm.v1.core.sched.scheduler  # what EngineCore does before building a Scheduler
        assert hooks.is_installed() and not hooks.is_pending(), "entry point not loaded"
        from vllm.sampling_params import SamplingParams
        from vsched_emitter.harness.driver import SchedulerKnobs, build_scheduler, build_vllm_config
        SamplingParams(max_tokens=3)
        build_vllm_config(SchedulerKnobs(num_blocks=32))
        assert not Path({str(log_dir)!r}).exists(), "wrote without a scheduler"
        print("nothing written", flush=True)
        sched = build_scheduler(SchedulerKnobs(num_blocks=32))
        # exit without shutdown(): atexit must close the trace
    """)
    environ = dict(os.environ, VLLM_SCHEDULER_LOGGING="1", VLLM_SCHEDULER_LOG_DIR=str(log_dir))
    proc = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "nothing written" in proc.stdout, proc.stderr[-3000:]
    files = list(log_dir.iterdir())
    assert len(files) == 1
    recs = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [r["type"] for r in recs] == ["header", "end"]
    assert recs[0]["pid"] != os.getpid() and files[0].name == f"vsched-{recs[0]['pid']}-dp0.jsonl"


def test_settings_from_env():
    s = env.from_env({})
    assert s == Settings() and not s.active and s.log_dir == Path("scheduler_logs")
    s = env.from_env({env.ENABLE: "1", env.LOG_DIR: "/x", env.LEVEL: "SUMMARY", env.FLUSH_STEPS: "7",
                      env.FLUSH_SECONDS: "2.5", env.GZIP: "1", env.MAX_BUFFERED: "10"})
    assert (s.active, s.log_dir, s.level, s.flush_steps, s.flush_seconds, s.gzip, s.max_buffered) == (
        True, Path("/x"), "summary", 7, 2.5, True, 10)
    s = env.from_env({env.ENABLE: "1", env.LEVEL: "loud", env.FLUSH_STEPS: "-3", env.MAX_BUFFERED: "many"})
    assert (s.level, s.flush_steps, s.max_buffered) == ("full", 100, 65536)
    assert not env.from_env({env.ENABLE: "1", env.LEVEL: "off"}).active


def test_a_session_that_cannot_start_leaves_vllm_alone(clean_hooks, tmp_path, monkeypatch):
    from vsched_emitter import capabilities

    def broken(*args, **kwargs):
        raise KeyError("unexpected vLLM layout")

    monkeypatch.setattr(capabilities, "header", broken)
    hooks.install(Settings(enabled=True, log_dir=tmp_path / "logs"))
    sched = build_scheduler(SchedulerKnobs(num_blocks=32))
    assert hooks.session_of(sched) is None
    out = sched.schedule()  # the wrappers pass straight through
    assert out.total_num_scheduled_tokens == 0
    sched.shutdown()
    assert not (tmp_path / "logs").exists() or not list((tmp_path / "logs").iterdir())
