import os
from importlib.metadata import version
from pathlib import Path

# Before vLLM is imported: no downloads, and a per-version vLLM cache so the first
# ModelConfig of the session reuses its model inspection (v0.11 and v0.33 would otherwise
# overwrite each other's cache entry and re-inspect in a subprocess every session).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CACHE_ROOT", str(Path.home() / ".cache" / "vsched" / f"vllm-cache-{version('vllm')}"))
for _name in [n for n in os.environ if n.startswith("VLLM_SCHEDULER_")]:
    del os.environ[_name]

import pytest  # noqa: E402

import vsched_testlib as lib  # noqa: E402


@pytest.fixture(scope="session")
def scenarios(tmp_path_factory):
    """Every scenario run once with the emitter on (full level), shared by the tests."""
    root = tmp_path_factory.mktemp("scenarios")
    return {name: lib.run_case(root / name, *make()) for name, make in lib.SCENARIOS.items()}
