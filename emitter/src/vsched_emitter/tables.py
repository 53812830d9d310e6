"""Load the tables `vsched convert` wrote (a logs directory) with their declared types.

    from vsched_emitter import tables
    t = tables.load("logs/")                 # {"per_request": DataFrame, ...}
    t["per_request"].request_id              # strings, exactly as the scheduler saw them

Everything the types need is in the directory's manifest.json (each column's kind,
nullability and, for states and causes, its values), so this module holds no second copy
of the schema. A plain ``pd.read_csv`` turns ids such as ``NaN``, ``007`` or ``-0`` into
other values; here:

- ids and other text are strings (a quoted empty cell is ``""``, an empty cell is null);
- ns counts and epoch ns are int64 (pandas ``Int64`` where the column may be empty);
- floats are float64; states, causes and reasons are categoricals (Polars ``Enum``);
- cells ``convert --spreadsheet-safe`` prefixed with ``'`` come back without it;
- the manifest's output schema major must be one this reader knows.

No dependency is required: ``backend="auto"`` returns pandas DataFrames when pandas is
installed, else Polars DataFrames, else plain ``{column: [values]}`` dicts. Parquet
directories (``convert --format parquet``) need pyarrow or Polars.
"""
from __future__ import annotations

import importlib.util
import json
import os
from typing import Any, Dict, Iterable, List, Optional

from ._table_csv import read_csv_columns
from ._table_frames import FRAME_BUILDERS, pick_backend

#: output schema majors this reader understands (src/schema/tables.ts OUTPUT_SCHEMA_VERSION)
SUPPORTED_MAJOR = 1
MANIFEST = "manifest.json"


class TablesError(ValueError):
    """A logs directory this reader cannot load; the message names the file."""


class Tables(dict):
    """``{table name: frame}`` in the manifest's order, with the parsed manifest alongside."""

    manifest: Dict[str, Any]


def load(path: "os.PathLike[str] | str", *, ranks: "Optional[Iterable[int] | int]" = None,
         tables: Optional[Iterable[str]] = None, backend: str = "auto", fmt: str = "auto") -> Tables:
    """Every table of a logs directory (or those named in ``tables``), typed.

    ranks: keep only rows of these data-parallel ranks (``dp_rank``); a partitioned Parquet
    directory reads only those ranks' files. backend: "auto" | "pandas" | "polars" | "python".
    fmt: "auto" (CSV when convert wrote CSV, else Parquet) | "csv" | "parquet".
    """
    root = os.fspath(path)
    manifest = read_manifest(root)
    rank_set = None if ranks is None else ({int(ranks)} if isinstance(ranks, int) else {int(r) for r in ranks})
    wanted = None if tables is None else list(tables)
    known = [t["name"] for t in manifest["tables"]]
    for name in wanted or []:
        if name not in known:
            raise TablesError(f"{os.path.join(root, MANIFEST)}: no table {name!r} (tables: {', '.join(known)})")
    source = _choose_format(manifest, fmt, root)
    chosen = pick_backend(backend)
    # pandas / Polars with pyarrow: typed in Arrow, no Python value per cell
    read = _read_arrow if chosen != "python" and importlib.util.find_spec("pyarrow") is not None else _read_plain
    out = Tables()
    out.manifest = manifest
    for entry in manifest["tables"]:
        if wanted is not None and entry["name"] not in wanted:
            continue
        frame = read(root, manifest, entry, source, rank_set, chosen)
        if frame is not None:
            out[entry["name"]] = frame
    return out


def _read_plain(root, manifest, entry, source, ranks, backend):
    columns = _read_table(root, manifest, entry, source, ranks)
    return None if columns is None else FRAME_BUILDERS[backend](entry["columns"], columns)


def _read_arrow(root, manifest, entry, source, ranks, backend):
    from . import _table_arrow as arrow

    meta = entry["columns"]
    try:
        if source == "csv":
            file = os.path.join(root, entry.get("file") or f"{entry['name']}.csv")
            if not os.path.exists(file):
                return None
            table = arrow.read_csv_table(file, meta, _quoted_columns(manifest, entry))
        else:
            files = [os.path.join(root, f) for f in entry.get("parquet_files") or []]
            if not files:
                return None
            table = arrow.read_parquet_tables(files, meta, ranks)
    except ValueError as e:
        raise TablesError(str(e)) from None
    table = arrow.keep_ranks(table, ranks)
    return arrow.to_pandas(table, meta) if backend == "pandas" else arrow.to_polars(table, meta)


def _quoted_columns(manifest, entry) -> set:
    """The text columns convert --spreadsheet-safe may have prefixed with '."""
    safe = bool((manifest.get("csv") or {}).get("spreadsheet_safe", manifest.get("options", {}).get("spreadsheet_safe")))
    return {c["name"] for c in entry["columns"] if c["kind"] == "string"} if safe else set()


def read_manifest(root: str) -> Dict[str, Any]:
    """manifest.json, checked for what this reader relies on."""
    file = os.path.join(root, MANIFEST)
    if not os.path.isdir(root):
        raise TablesError(f"{root}: no such logs directory (run vsched convert first)")
    try:
        with open(file, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise TablesError(f"{file}: missing; the types come from it (convert writes it beside the tables)") from None
    except (OSError, ValueError) as e:
        raise TablesError(f"{file}: not readable JSON ({e})") from None
    version = manifest.get("output_schema_version") if isinstance(manifest, dict) else None
    if not isinstance(version, str) or not version.split(".")[0].isdigit():
        raise TablesError(f"{file}: no output_schema_version")
    if int(version.split(".")[0]) != SUPPORTED_MAJOR:
        raise TablesError(f"{file}: output schema {version}, this reader knows {SUPPORTED_MAJOR}.x "
                          "(update vsched-emitter, or convert again with a matching vsched)")
    if not isinstance(manifest.get("tables"), list):
        raise TablesError(f"{file}: no tables list")
    return manifest


def _choose_format(manifest: Dict[str, Any], fmt: str, root: str) -> str:
    has_csv, has_parquet = "csv" in manifest, "parquet" in manifest
    if fmt == "auto":
        return "csv" if has_csv or not has_parquet else "parquet"
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be auto, csv or parquet, not {fmt!r}")
    if not (has_csv if fmt == "csv" else has_parquet):
        raise TablesError(f"{os.path.join(root, MANIFEST)}: convert wrote no {fmt} tables here")
    return fmt


def _read_table(root: str, manifest: Dict[str, Any], entry: Dict[str, Any], source: str,
                ranks: Optional[set]) -> Optional[Dict[str, List[Any]]]:
    names = [c["name"] for c in entry["columns"]]
    if source == "csv":
        file = os.path.join(root, entry.get("file") or f"{entry['name']}.csv")
        if not os.path.exists(file):
            return None
        try:
            columns = read_csv_columns(file, entry["columns"], _quoted_columns(manifest, entry))
        except ValueError as e:
            raise TablesError(str(e)) from None
    else:
        from ._table_parquet import read_parquet_columns

        files = [os.path.join(root, f) for f in entry.get("parquet_files") or []]
        if not files:
            return None
        columns = read_parquet_columns(files, entry["columns"], ranks)
    if ranks is not None and "dp_rank" in columns:
        keep = [i for i, r in enumerate(columns["dp_rank"]) if r in ranks]
        columns = {n: [v[i] for i in keep] for n, v in columns.items()}
    return {n: columns[n] for n in names if n in columns}
