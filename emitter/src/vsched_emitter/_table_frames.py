"""Typed frames from columns of Python values, one builder per backend (tables.load).

The dtype of a column follows from its manifest entry alone, never from the data, so
the same table has the same dtypes whether it has rows or not.
"""
from __future__ import annotations

import importlib.util
from typing import Any, Callable, Dict, List, Sequence

Columns = Dict[str, List[Any]]
Meta = Sequence[Dict[str, Any]]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pick_backend(backend: str) -> str:
    if backend == "auto":
        return "pandas" if _installed("pandas") else "polars" if _installed("polars") else "python"
    if backend not in FRAME_BUILDERS:
        raise ValueError(f"backend must be auto, pandas, polars or python, not {backend!r}")
    if backend != "python" and not _installed(backend):
        raise ImportError(f"backend={backend!r} needs {backend} installed (pip install {backend})")
    return backend


def _python(meta: Meta, columns: Columns) -> Columns:
    return {c["name"]: columns[c["name"]] for c in meta if c["name"] in columns}


def _pandas(meta: Meta, columns: Columns):
    import pandas as pd

    data = {}
    for c in meta:
        name = c["name"]
        if name not in columns:
            continue
        values, kind = columns[name], c["kind"]
        if kind in ("int", "epoch_ns"):
            # Int64 holds nulls without going through float (epoch ns need all 64 bits)
            dtype = "Int64" if c.get("nullable", True) else "int64"
            data[name] = pd.array(values, dtype="Int64").astype(dtype) if dtype == "int64" else pd.array(values, dtype="Int64")
        elif kind == "float":
            data[name] = pd.array([float("nan") if v is None else v for v in values], dtype="float64")
        elif c.get("values"):
            data[name] = pd.Categorical(values, categories=c["values"])
        else:
            data[name] = pd.array(values, dtype="string")
    return pd.DataFrame(data)


def _polars(meta: Meta, columns: Columns):
    import polars as pl

    series = []
    for c in meta:
        name = c["name"]
        if name not in columns:
            continue
        kind = c["kind"]
        if kind in ("int", "epoch_ns"):
            dtype = pl.Int64
        elif kind == "float":
            dtype = pl.Float64
        elif c.get("values"):
            dtype = pl.Enum(c["values"])
        else:
            dtype = pl.String
        series.append(pl.Series(name, columns[name], dtype=dtype))
    return pl.DataFrame(series)


FRAME_BUILDERS: Dict[str, Callable[[Meta, Columns], Any]] = {"python": _python, "pandas": _pandas, "polars": _polars}
