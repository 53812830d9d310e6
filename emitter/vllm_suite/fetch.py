"""Get vLLM's own scheduler tests for one vLLM version from that version's sdist, via pip.

Nothing of vLLM's test code is committed to vsched: the sdist (``pip download --no-binary
:all:``) is the source, cached in ``$VSCHED_CACHE`` (default ``~/.cache/vsched``):

    sdists/vllm-<v>.tar.gz          the sdist pip downloaded (the registry is the only network)
    sdist-build-tools/              setuptools-rust/-scm, for pip's metadata step (see below)
    vllm-tests-<v>/tests/...        the selected test files and the helpers they import
    vllm-tests-<v>/.ready           what was extracted and from which sdist (sha256)

``pip download`` of an sdist runs its ``prepare_metadata_for_build_wheel`` hook (pip checks the
name and version it gets). vLLM's ``setup.py`` imports torch, setuptools_rust and setuptools_scm
at the top and may append ``+cpu`` to the version, so it runs with ``--no-build-isolation``
(torch comes from the vLLM venv; nothing is compiled), the two setuptools plugins from a
``pip install --target`` directory on PYTHONPATH, and so that the metadata says exactly
``<v>``: ``VLLM_TARGET_DEVICE`` unset (0.11 auto-detects ``cpu`` and adds a suffix only when the
variable says ``cpu``) and ``VLLM_SKIP_VERSION_SUFFIX=1`` (0.33 suffixes auto-detected ``cpu``
too, and has this switch for it).

Which files: the requested test modules, then every module they import from ``tests.`` (or
relatively), transitively, with the ``__init__.py`` of each package on the way and the
``conftest.py`` of each directory on the way **except** ``tests/conftest.py``: vLLM's root
conftest imports its whole model-test infrastructure (tblib, PIL assets, HF runners, a
local HTTP asset server) that the scheduler tests do not use; the one fixture they take
from it (``caplog_vllm``) is provided by ``pytest_vsched_suite.py``.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

DEFAULT_TESTS = ("tests/v1/core/test_scheduler.py", "tests/v1/core/test_async_scheduler.py")
BUILD_TOOLS = ("setuptools-rust", "setuptools-scm", "setuptools>=77.0.3,<81")
#: bump when the selection rule changes, so cached trees are re-extracted
LAYOUT = 1


class FetchError(Exception):
    """The tests could not be obtained (network, pip, or the sdist lacks a requested file)."""


def cache_root() -> Path:
    return Path(os.environ.get("VSCHED_CACHE") or Path.home() / ".cache" / "vsched")


def _pip(python: str, *args: str, env: dict | None = None) -> None:
    cmd = [python, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        tail = [ln for ln in (r.stderr or r.stdout).splitlines() if "is ignored" not in ln][-5:]
        raise FetchError(f"pip {args[0]} failed (exit {r.returncode}): " + " | ".join(tail))


def build_tools(python: str, root: Path) -> Path:
    target = root / "sdist-build-tools"
    if not (target / ".ready").exists():
        _pip(python, "install", "--no-warn-conflicts", "--target", str(target), *BUILD_TOOLS)
        (target / ".ready").write_text("\n".join(BUILD_TOOLS) + "\n")
    return target


def sdist(version: str, python: str, root: Path) -> Path:
    """The cached sdist of vllm==version, downloaded through pip on first use."""
    dest = root / "sdists"
    path = dest / f"vllm-{version}.tar.gz"
    if path.exists():
        return path
    dest.mkdir(parents=True, exist_ok=True)
    tools = build_tools(python, root)
    env = {k: v for k, v in os.environ.items() if k != "VLLM_TARGET_DEVICE"}
    env.update(PYTHONPATH=str(tools), VLLM_SKIP_VERSION_SUFFIX="1")
    _pip(python, "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
         "-d", str(dest), f"vllm=={version}", env=env)
    if not path.exists():
        raise FetchError(f"pip downloaded no {path.name} into {dest}")
    return path


def _imports(source: str, package: str) -> set[str]:
    """Dotted names of the ``tests.*`` modules a module of ``package`` imports (anywhere in it)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "tests" or name.startswith("tests."):
                out.add(name)
                out.update(f"{name}.{a.name}" for a in node.names)  # `from pkg import mod`
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("tests."))
    return out


def select(members: dict[str, bytes], wanted: list[str]) -> list[str]:
    """Paths (relative to the sdist root) to extract: ``wanted`` plus their import closure."""
    chosen: set[str] = set()
    todo = list(wanted)
    while todo:
        path = todo.pop()
        if path in chosen:
            continue
        chosen.add(path)
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            for extra in (f"{d}/__init__.py", f"{d}/conftest.py"):
                if extra in members and extra != "tests/conftest.py" and extra not in chosen:
                    todo.append(extra)
        package = ".".join(parts[:-1])  # a module's package, or the package of an __init__.py
        for name in _imports(members[path].decode("utf-8"), package):
            rel = name.replace(".", "/")
            for cand in (f"{rel}.py", f"{rel}/__init__.py"):
                if cand in members:
                    todo.append(cand)
                    break
    return sorted(chosen)


def _read_tests(tar_path: Path) -> tuple[dict[str, bytes], str]:
    """Every .py under tests/ (paths without the ``vllm-<v>/`` prefix) and the sdist's sha256."""
    h = hashlib.sha256(tar_path.read_bytes()).hexdigest()
    members: dict[str, bytes] = {}
    with tarfile.open(tar_path, "r:gz") as tf:
        for m in tf:
            parts = m.name.split("/", 1)
            if m.isfile() and len(parts) == 2 and parts[1].startswith("tests/") and parts[1].endswith(".py"):
                members[parts[1]] = tf.extractfile(m).read()
    return members, h


def tests_tree(version: str, python: str, wanted: list[str] | None = None) -> Path:
    """A directory holding ``tests/...`` (the selection) for vllm==version; cached."""
    root = cache_root()
    wanted = list(wanted or DEFAULT_TESTS)
    tree = root / f"vllm-tests-{version}"
    stamp = tree / ".ready"
    key = {"layout": LAYOUT, "wanted": sorted(wanted)}
    if stamp.exists():
        info = json.loads(stamp.read_text())
        if {k: info.get(k) for k in key} == key:
            return tree
    tar_path = sdist(version, python, root)
    members, digest = _read_tests(tar_path)
    missing = [w for w in wanted if w not in members]
    if missing:
        raise FetchError(f"the vllm {version} sdist has no {', '.join(missing)}")
    files = select(members, wanted)
    tmp = tree.with_name(tree.name + ".tmp")
    if tmp.exists():
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
    for rel in files:
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(members[rel])
    (tmp / ".ready").write_text(json.dumps({**key, "sdist": tar_path.name, "sha256": digest,
                                            "files": files}, indent=1) + "\n")
    if tree.exists():
        subprocess.run(["rm", "-rf", str(tree)], check=True)
    tmp.rename(tree)
    return tree


if __name__ == "__main__":
    try:
        print(tests_tree(sys.argv[1], sys.executable, sys.argv[2:] or None))
    except FetchError as e:
        print(f"vllm-suite: {e}", file=sys.stderr)
        sys.exit(2)
