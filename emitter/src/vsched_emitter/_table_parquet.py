"""vsched's Parquet tables read column-wise through pyarrow, or Polars without it (tables.load).

A table is one ``<table>.parquet`` or hive-style parts ``<table>/dp_rank=N/part-K.parquet``
(convert --partition-by): the partition column comes from the path, and parts are read in
the order vsched reads them (by partition value, numbers numerically, then part number).
"""
from __future__ import annotations

import importlib.util
import os
import re
from typing import Any, Dict, List, Optional, Sequence

_PART = re.compile(r"^part-(\d+)\.parquet$")


def _from_path(file: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for segment in file.replace(os.sep, "/").split("/")[:-1]:
        key, eq, value = segment.partition("=")
        if eq:
            out[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
    return out


def _order_key(file: str):
    values = list(_from_path(file).values())
    m = _PART.match(os.path.basename(file))
    values.append(int(m.group(1)) if m else os.path.basename(file))
    return [(0, v, "") if isinstance(v, int) else (1, 0, str(v)) for v in values]


def _read_file(file: str, names: List[str]) -> Dict[str, List[Any]]:
    if importlib.util.find_spec("pyarrow") is not None:
        import pyarrow.parquet as pq

        table = pq.read_table(file)
        return {n: table.column(n).to_pylist() for n in names if n in table.column_names}
    if importlib.util.find_spec("polars") is not None:
        import polars as pl

        frame = pl.read_parquet(file)
        return {n: frame[n].to_list() for n in names if n in frame.columns}
    raise ImportError("reading vsched's Parquet tables needs pyarrow or polars (pip install pyarrow), or convert with --format csv")


def read_parquet_columns(files: Sequence[str], columns: Sequence[Dict[str, Any]], ranks: Optional[set]) -> Dict[str, List[Any]]:
    names = [c["name"] for c in columns]
    out: Dict[str, List[Any]] = {n: [] for n in names}
    for file in sorted(files, key=_order_key):
        path_values = _from_path(file)
        if ranks is not None and "dp_rank" in path_values and path_values["dp_rank"] not in ranks:
            continue
        got = _read_file(file, names)
        rows = len(next(iter(got.values()))) if got else 0
        for n in names:
            out[n].extend(got[n] if n in got else [path_values.get(n)] * rows)
    return out
