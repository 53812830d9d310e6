"""install()/uninstall(): patch methods on vllm's Scheduler class object (AsyncScheduler
and forks that subclass it inherit the hooks) and restore them exactly.

Every wrapper calls the original unconditionally; its own work runs inside try/except,
so a failing hook disables recording for that scheduler (one emitter_error record, one
log line) and never changes what vLLM does. Exceptions raised by vLLM itself propagate
unchanged.
"""
from __future__ import annotations

import atexit
import functools
import importlib.util
import logging
import sys
import threading

from . import env
from .env import Settings

logger = logging.getLogger("vsched_emitter")

HOOKED = ("__init__", "add_request", "schedule", "update_from_output", "finish_requests",
          "_free_request", "_preempt_request", "shutdown", "_update_request_as_session")
# _update_request_as_session: vLLM >= 0.33's streaming-input sessions (a chunk commences)
OPTIONAL = frozenset({"_preempt_request", "shutdown", "_update_request_as_session"})
SESSION_ATTR = "_vsched_session"
# set by vLLM's __init__ when a plugin class's own __init__ continues after it (it may swap
# the waiting queue, as seed 003's fork does): the session starts at the first hooked call
PENDING_ATTR = "_vsched_session_pending"

_ABSENT = object()
_lock = threading.RLock()
_originals: dict[str, object] = {}   # name -> value in Scheduler.__dict__ (or _ABSENT)
_target = None                       # the patched class
_settings: Settings | None = None    # None: read the environment at each construction
_sessions: list = []
_atexit_registered = False
_init_error_logged = False


SCHEDULER_MODULE = "vllm.v1.core.sched.scheduler"


def is_installed() -> bool:
    return _target is not None


def is_pending() -> bool:
    """install_when_imported() is waiting for vLLM to import its scheduler module."""
    return _finder is not None and _finder in sys.meta_path


class _InstallOnImport:
    """A one-shot meta path finder: lets the normal finders locate the scheduler module and
    runs install() right after the module has executed, before anyone can use the class."""

    def __init__(self, settings):
        self.settings = settings

    def find_spec(self, fullname, path=None, target=None):
        if fullname != SCHEDULER_MODULE:
            return None
        _remove_finder()
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module
        settings = self.settings

        def exec_then_install(module):
            exec_module(module)
            try:
                install(settings)
            except Exception as e:
                logger.warning("vsched: cannot patch the scheduler, not recording: %r", e)

        spec.loader.exec_module = exec_then_install
        return spec


_finder: _InstallOnImport | None = None


def _remove_finder() -> None:
    global _finder
    if _finder is not None:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        _finder = None


def install_when_imported(settings: Settings | None = None) -> None:
    """install() now if vLLM's scheduler module is loaded, else right after it is imported.

    Keeps plugin registration cheap in processes that never schedule (API server, workers):
    they do not pay for importing the scheduler module.
    """
    global _finder
    with _lock:
        if _target is not None or SCHEDULER_MODULE in sys.modules:
            install(settings)
            return
        if _finder is None:
            _finder = _InstallOnImport(settings)
            sys.meta_path.insert(0, _finder)
        else:
            _finder.settings = settings


def patched_names() -> frozenset:
    return frozenset(_originals)


def sessions() -> list:
    """Live (not yet closed) sessions, oldest first."""
    return [s for s in _sessions if not s.closed]


def session_of(sched):
    d = sched.__dict__
    if SESSION_ATTR not in d and d.pop(PENDING_ATTR, False):
        _new_session(sched)
    return d.get(SESSION_ATTR)


def install(settings: Settings | None = None) -> bool:
    """Patch the Scheduler class. Idempotent; a later call only replaces the settings.

    ``settings=None`` reads the environment (env.py) whenever a Scheduler is built.
    Returns True when the hooks are in place.
    """
    global _target, _settings, _atexit_registered
    from vllm.v1.core.sched.scheduler import Scheduler

    with _lock:
        _settings = settings
        if _target is not None:
            return True
        originals = {}
        for name in HOOKED:
            if not hasattr(Scheduler, name):
                if name in OPTIONAL:
                    continue
                raise AttributeError(f"vllm Scheduler has no {name}; this vLLM is not supported")
            originals[name] = Scheduler.__dict__.get(name, _ABSENT)
        for name in originals:
            setattr(Scheduler, name, _WRAPPERS[name](getattr(Scheduler, name)))
        _originals.clear()
        _originals.update(originals)
        _target = Scheduler
        if not _atexit_registered:
            atexit.register(close_all)
            _atexit_registered = True
        return True


def uninstall() -> None:
    """Restore the original methods exactly and close every live session."""
    global _target
    with _lock:
        _remove_finder()
        target = _target
        if target is not None:
            for name, original in _originals.items():
                if original is _ABSENT:
                    try:
                        delattr(target, name)
                    except AttributeError:
                        pass
                else:
                    setattr(target, name, original)
            _originals.clear()
            _target = None
    close_all()


def close_all() -> None:
    for s in list(_sessions):
        s.close()
    _sessions.clear()


def _new_session(sched) -> None:
    global _init_error_logged
    try:
        settings = _settings if _settings is not None else env.from_env()
        if not settings.active or SESSION_ATTR in sched.__dict__:
            return
        from .session import Session

        s = Session(sched, settings, patched_names())
        sched.__dict__[SESSION_ATTR] = s
        _sessions[:] = [x for x in _sessions if not x.closed]
        _sessions.append(s)
    except Exception as e:
        if not _init_error_logged:
            _init_error_logged = True
            logger.warning("vsched: cannot start recording this scheduler: %r", e, exc_info=e)


def _active(sched):
    d = sched.__dict__
    s = d.get(SESSION_ATTR)
    if s is None and d.pop(PENDING_ATTR, False):
        _new_session(sched)
        s = d.get(SESSION_ATTR)
    return s if s is not None and s.enabled else None


_plugin_inits: dict[type, bool] = {}


def _plugin_init(cls) -> bool:
    """Whether cls's __init__ is a plugin's, outside vLLM, that runs on after vLLM's."""
    known = _plugin_inits.get(cls)
    if known is None:
        owner = next((c for c in cls.__mro__ if "__init__" in c.__dict__), object)
        known = _plugin_inits[cls] = not (owner.__module__ or "").startswith("vllm.")
    return known


# ---- wrappers ------------------------------------------------------------------------
# Written out one by one rather than through a generic before/after factory: schedule() and
# update_from_output() run every step, and a factory would add a dispatch per call there.
def _w_init(orig):
    @functools.wraps(orig)
    def __init__(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        if _plugin_init(type(self)):
            self.__dict__[PENDING_ATTR] = True
        else:
            _new_session(self)
    return __init__


def _w_add_request(orig):
    @functools.wraps(orig)
    def add_request(self, request, *args, **kwargs):
        s = _active(self)
        if s is None:
            return orig(self, request, *args, **kwargs)
        try:
            is_new = request.request_id not in self.requests
        except Exception as e:
            s.fail("add_request", e)
            is_new = False
        result = orig(self, request, *args, **kwargs)
        if is_new and s.enabled:
            try:
                s.on_arrival(self, request)
            except Exception as e:
                s.fail("add_request", e)
        return result
    return add_request


def _w_schedule(orig):
    @functools.wraps(orig)
    def schedule(self, *args, **kwargs):
        s = _active(self)
        if s is None:
            return orig(self, *args, **kwargs)
        try:
            s.before_schedule(self)
        except Exception as e:
            s.fail("schedule", e)
        try:
            out = orig(self, *args, **kwargs)
        finally:
            s.restore()
        if s.enabled:
            try:
                s.after_schedule(self, out)
            except Exception as e:
                s.fail("schedule", e)
        return out
    return schedule


def _w_update_from_output(orig):
    @functools.wraps(orig)
    def update_from_output(self, scheduler_output, model_runner_output, *args, **kwargs):
        s = _active(self)
        if s is None:
            return orig(self, scheduler_output, model_runner_output, *args, **kwargs)
        try:
            s.before_update()
        except Exception as e:
            s.fail("update_from_output", e)
        try:
            result = orig(self, scheduler_output, model_runner_output, *args, **kwargs)
        finally:
            s.in_update = False
        if s.enabled:
            try:
                s.after_update(self, scheduler_output, result)
            except Exception as e:
                s.fail("update_from_output", e)
        return result
    return update_from_output


def _w_finish_requests(orig):
    @functools.wraps(orig)
    def finish_requests(self, request_ids, *args, **kwargs):
        s = _active(self)
        if s is None:
            return orig(self, request_ids, *args, **kwargs)
        try:
            s.before_finish(self, request_ids)
        except Exception as e:
            s.fail("finish_requests", e)
        try:
            return orig(self, request_ids, *args, **kwargs)
        finally:
            s.after_finish()
    return finish_requests


def _w_after(method: str, callback: str):
    """Wrap a Scheduler method whose hook runs after it, on the request it was given."""
    def wrap(orig):
        @functools.wraps(orig)
        def wrapper(self, request, *args, **kwargs):
            result = orig(self, request, *args, **kwargs)
            s = _active(self)
            if s is not None:
                try:
                    getattr(s, callback)(request)
                except Exception as e:
                    s.fail(method, e)
            return result
        return wrapper
    return wrap


_w_free_request = _w_after("_free_request", "on_free")
_w_preempt_request = _w_after("_preempt_request", "on_preempt")
_w_update_request_as_session = _w_after("_update_request_as_session", "on_next_chunk")


def _w_shutdown(orig):
    @functools.wraps(orig)
    def shutdown(self, *args, **kwargs):
        try:
            return orig(self, *args, **kwargs)
        finally:
            s = self.__dict__.get(SESSION_ATTR)
            if s is not None:
                s.close()
    return shutdown


_WRAPPERS = {
    "__init__": _w_init,
    "add_request": _w_add_request,
    "schedule": _w_schedule,
    "update_from_output": _w_update_from_output,
    "finish_requests": _w_finish_requests,
    "_free_request": _w_free_request,
    "_preempt_request": _w_preempt_request,
    "_update_request_as_session": _w_update_request_as_session,
    "shutdown": _w_shutdown,
}
