"""The fast path of tables.load when pyarrow is installed: CSV and Parquet read by Arrow
and typed there, handed to pandas or Polars without a Python value per cell (the plain
reader, _table_csv, builds one; at ~400k rows it is ~10x slower than this).

Arrow's CSV reader keeps vsched's two empty cells apart: an empty field is null
(``strings_can_be_null``), a quoted ``""`` an empty string (``quoted_strings_can_be_null``
off). Every column is read as text first, so ids such as ``007`` or ``NaN`` stay text, and
numeric columns are then cast (a cell that is no number is an error naming the file).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ._table_parquet import _from_path, _order_key

_ARROW = {"int": pa.int64(), "epoch_ns": pa.int64(), "float": pa.float64(), "string": pa.string(), "json": pa.string()}


def _has_version_line(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"# vsched"


def read_csv_table(path: str, meta: Sequence[Dict[str, Any]], strip_quote: set) -> "pa.Table":
    from pyarrow import csv

    names = [c["name"] for c in meta]
    table = csv.read_csv(
        path,
        read_options=csv.ReadOptions(skip_rows=1 if _has_version_line(path) else 0),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                                           quoted_strings_can_be_null=False, null_values=[""]),
    )
    for name in strip_quote:
        if name in table.column_names:
            col = table.column(name)
            stripped = pc.if_else(pc.starts_with(col, "'"), pc.utf8_slice_codeunits(col, 1), col)
            table = table.set_column(table.column_names.index(name), name, stripped)
    return _typed(table, meta, path)


def read_parquet_tables(files: Sequence[str], meta: Sequence[Dict[str, Any]], ranks: Optional[set]) -> "pa.Table":
    import pyarrow.parquet as pq

    parts: List[pa.Table] = []
    for file in sorted(files, key=_order_key):
        from_path = _from_path(file)
        if ranks is not None and "dp_rank" in from_path and from_path["dp_rank"] not in ranks:
            continue
        t = pq.read_table(file)
        for key, value in from_path.items():  # partition columns come from the path
            if key not in t.column_names:
                t = t.append_column(key, pa.array([value] * t.num_rows, type=_ARROW.get(_kind(meta, key), pa.string())))
        parts.append(_typed(t, meta, file))
    if not parts:
        return pa.table({c["name"]: pa.array([], type=_ARROW[c["kind"]]) for c in meta})
    return pa.concat_tables(parts)


def _kind(meta, name):
    return next((c["kind"] for c in meta if c["name"] == name), "string")


def _typed(table: "pa.Table", meta: Sequence[Dict[str, Any]], where: str) -> "pa.Table":
    """The manifest's columns, in its order, cast to their kinds (dictionaries decoded)."""
    columns, fields = [], []
    for c in meta:
        if c["name"] not in table.column_names:
            continue
        col = table.column(c["name"])
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        try:
            col = col.cast(_ARROW[c["kind"]])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise ValueError(f"{where}: column {c['name']}: not {c['kind']} ({str(e).splitlines()[0]})") from None
        columns.append(col)
        fields.append(pa.field(c["name"], col.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def keep_ranks(table: "pa.Table", ranks: Optional[set]) -> "pa.Table":
    if ranks is None or "dp_rank" not in table.column_names:
        return table
    return table.filter(pc.is_in(table.column("dp_rank"), value_set=pa.array(sorted(ranks), type=pa.int64())))


def to_pandas(table: "pa.Table", meta: Sequence[Dict[str, Any]]):
    import pandas as pd

    enums = {c["name"]: c["values"] for c in meta if c.get("values") and c["name"] in table.column_names}
    codes = {name: _codes(table.column(name), values, name) for name, values in enums.items()}
    frame = table.drop_columns(list(enums)).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype("pyarrow")}.get)
    out = {}
    for c in meta:
        name = c["name"]
        if name in codes:
            out[name] = pd.Categorical.from_codes(codes[name], categories=enums[name])
        elif name in frame.columns:
            column = frame[name]
            out[name] = column.astype("int64") if c["kind"] in ("int", "epoch_ns") and not c.get("nullable", True) else column
    return pd.DataFrame(out)


def _codes(col, values, name):
    """Category codes of a text column (-1 for null), computed in Arrow."""
    index = pc.index_in(col, value_set=pa.array(values, type=pa.string()))
    if index.null_count != col.null_count:
        raise ValueError(f"column {name}: a value outside {values}")
    return pc.fill_null(index, -1).to_numpy(zero_copy_only=False)


def to_polars(table: "pa.Table", meta: Sequence[Dict[str, Any]]):
    import polars as pl

    frame = pl.from_arrow(table)
    enums = {c["name"]: pl.Enum(c["values"]) for c in meta if c.get("values") and c["name"] in frame.columns}
    return frame.cast(enums) if enums else frame
