"""`vsched convert --format both` on real fixtures: the Parquet tables, as pandas (pyarrow),
Polars and DuckDB read them, hold exactly what the CSVs hold.

The check is byte-exact: every row each library returns is re-serialised in the CSV format
that manifest.json documents (integers as digits, floats with 6 decimals rounded half away
from zero like JavaScript's toFixed, null as an empty field, "" for an empty string, RFC 4180
quoting) and the result must equal the CSV file byte for byte. An epoch-ns column that went
through a float anywhere would lose its last digits and fail.

Run with the analysis venv: "$(bash scripts/analysis_env.sh)/bin/python" -m pytest test/python/parquet
"""
import csv
import io
import json
import math
import os
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[3]
TABLES = ["per_request", "per_iteration", "per_iteration_requests", "events", "state_transitions"]
SIX = Decimal("0.000001")


def convert(inputs, out, *extra, env=None):
    subprocess.run(["node", str(ROOT / "bin" / "vsched.js"), "convert", *map(str, inputs), "-o", str(out), "-q",
                    "--format", "both", *extra], check=True, timeout=300, env={**os.environ, **(env or {})})
    return json.loads((out / "manifest.json").read_text())


def fmt(value, kind):
    """One cell in vsched's CSV format (manifest.json "csv"), from what a reader returned."""
    if value is None or value is pd.NA:
        return ""
    if kind == "float":
        if math.isnan(value) or math.isinf(value):
            return ""
        text = str(Decimal(value).quantize(SIX, rounding=ROUND_HALF_UP))
        return "0.000000" if text == "-0.000000" else text
    if kind in ("int", "epoch_ns"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{kind} cell read as {type(value).__name__}: {value!r}"
        return str(value)
    if value == "":
        return '""'
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


def csv_text(columns, kinds, rows):
    lines = [",".join(fmt(c, "string") for c in columns)]
    lines += [",".join(fmt(v, k) for v, k in zip(row, kinds)) for row in rows]
    return "\n".join(lines) + "\n"


def kinds_of(manifest, table):
    entry = next(t for t in manifest["tables"] if t["name"] == table)
    return [c["name"] for c in entry["columns"]], [c["kind"] for c in entry["columns"]]


def rows_pandas(path):
    # numpy_nullable: INT64 with nulls stays Int64 (exact), not float64
    df = pd.read_parquet(path, dtype_backend="numpy_nullable")
    cols = [[None if v is pd.NA else (int(v) if df[c].dtype.kind in "iu" or str(df[c].dtype).startswith("Int") else v)
             for v in df[c].tolist()] for c in df.columns]
    return list(df.columns), list(zip(*cols)) if cols else []


def rows_polars(path):
    df = pl.read_parquet(path)
    return df.columns, df.rows()


def rows_duckdb(path):
    con = duckdb.connect()
    rel = con.execute("select * from read_parquet(?)", [str(path)])
    return [d[0] for d in rel.description], rel.fetchall()


READERS = {"pandas": rows_pandas, "polars": rows_polars, "duckdb": rows_duckdb}

CASES = {
    "e2e-vllm-cpu": [ROOT / "fixtures" / "e2e-vllm-cpu" / "trace"],
    "kv-pressure-preempt": [ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl"],
    # the same run with many row groups and many pages in each column chunk (the bench trace's
    # shape at 100k-row groups and 16k-row pages, scaled down to a fixture)
    "kv-pressure-preempt-small-pages": [ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl"],
}
ENV = {"kv-pressure-preempt-small-pages": {"VSCHED_PARQUET_ROW_GROUP_ROWS": "700", "VSCHED_PARQUET_PAGE_ROWS": "128"}}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = {}
    for name, inputs in CASES.items():
        d = tmp_path_factory.mktemp(name) / "logs"
        out[name] = (d, convert(inputs, d, env=ENV.get(name)))
    return out


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", CASES)
def test_parquet_equals_csv_cell_for_cell(converted, case, reader):
    logs, manifest = converted[case]
    for table in TABLES:
        columns, kinds = kinds_of(manifest, table)
        names, rows = READERS[reader](logs / f"{table}.parquet")
        assert names == columns, f"{table}: column order"
        expected = (logs / f"{table}.csv").read_text()
        assert expected.count("\n") > 1, f"{table}: the fixture must give rows to compare"
        got = csv_text(names, kinds, rows)
        assert got == expected, f"{reader} {table}: first difference at line {first_diff(got, expected)}"


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return f"{i}: parquet {x[:200]!r} csv {y[:200]!r}"
    return "(length)"


def test_parquet_types_dictionaries_and_metadata(converted):
    logs, manifest = converted["kv-pressure-preempt"]
    for table in TABLES:
        f = pq.ParquetFile(logs / f"{table}.parquet")
        kv = {k.decode(): v.decode() for k, v in f.metadata.metadata.items()}
        assert kv["vsched.output_schema_version"] == manifest["output_schema_version"]
        assert kv["vsched.table"] == table
        columns, kinds = kinds_of(manifest, table)
        arrow = f.schema_arrow
        for name, kind in zip(columns, kinds):
            want = {"int": "int64", "epoch_ns": "int64", "float": "double", "string": "string", "json": "string"}[kind]
            assert str(arrow.field(name).type) == want, f"{table}.{name}"
        assert f.metadata.num_rows == next(t["rows"] for t in manifest["tables"] if t["name"] == table)
    # ids, states and reasons are dictionary-encoded
    f = pq.ParquetFile(logs / "per_iteration_requests.parquet")
    chunk = {f.metadata.row_group(0).column(i).path_in_schema: f.metadata.row_group(0).column(i)
             for i in range(f.metadata.num_columns)}
    for name in ("request_id", "state", "waiting_reason", "running_reason"):
        assert chunk[name].has_dictionary_page and "RLE_DICTIONARY" in chunk[name].encodings, name


def test_small_pages_case_has_many_groups_and_pages(converted):
    """The case above reads back cell for cell only if it has what it is there for."""
    logs, _ = converted["kv-pressure-preempt-small-pages"]
    meta = pq.ParquetFile(logs / "per_iteration_requests.parquet").metadata
    assert meta.num_row_groups >= 3 and meta.row_group(0).num_rows == 700
    for i in range(meta.num_columns):
        # an offset index is written for a chunk of more than one page
        assert meta.row_group(0).column(i).has_offset_index, meta.row_group(0).column(i).path_in_schema


def test_epoch_ns_exact_beyond_float(converted):
    """The epoch-ns values need more than float64's 53 bits, and each library returns them exactly."""
    logs, _ = converted["e2e-vllm-cpu"]
    reference = [int(r["arrival_time_epoch_ns"]) for r in csv.DictReader(io.StringIO((logs / "per_request.csv").read_text()))]
    assert any(v != int(float(v)) for v in reference), "values that survive a float would not test anything"
    assert pl.read_parquet(logs / "per_request.parquet")["arrival_time_epoch_ns"].to_list() == reference
    assert [r[0] for r in duckdb.sql(f"select arrival_time_epoch_ns from '{logs / 'per_request.parquet'}'").fetchall()] == reference
    assert pd.read_parquet(logs / "per_request.parquet")["arrival_time_epoch_ns"].tolist() == reference


def relabel_rank(src: Path, dst: Path, rank: int) -> Path:
    """A copy of a recorded trace whose header claims another data-parallel rank (only line 1 changes)."""
    lines = src.read_text().split("\n", 1)
    header = json.loads(lines[0])
    assert header["type"] == "header" and header["dp_rank"] == 0
    header["dp_rank"] = rank
    dst.write_text(json.dumps(header, separators=(",", ":")) + "\n" + lines[1])
    return dst


def test_partitioned_multi_rank_run_reads_as_one_dataset(tmp_path):
    inputs = [
        ROOT / "fixtures" / "azure-conv-chunked" / "vsched-1-dp0.jsonl",
        relabel_rank(ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl", tmp_path / "vsched-2-dp1.jsonl", 1),
        # one trace per rank: two of one rank in one run are refused (RAW_DUPLICATE_RANK)
        relabel_rank(ROOT / "fixtures" / "mooncake-prefix" / "vsched-1-dp0.jsonl", tmp_path / "vsched-3-dp2.jsonl", 2),
    ]
    logs = tmp_path / "logs"
    manifest = convert(inputs, logs, "--partition-by", "dp_rank")
    assert (logs / "per_iteration_requests" / "dp_rank=1" / "part-0.parquet").is_file()
    con = duckdb.connect()
    for table in TABLES:
        columns, kinds = kinds_of(manifest, table)
        lines = (logs / f"{table}.csv").read_text().splitlines()
        rank_at = columns.index("dp_rank")
        # rows of one rank keep their CSV order; the dataset is read rank by rank
        body = sorted(lines[1:], key=lambda line: int(next(csv.reader([line]))[rank_at]))
        assert {int(next(csv.reader([line]))[rank_at]) for line in body} == {0, 1, 2}, table
        glob = str(logs / table / "**" / "*.parquet")
        select = ", ".join(f'"{c}"' for c in columns)
        rel = con.execute(f"select {select} from read_parquet(?, hive_partitioning = true, filename = true, file_row_number = true) "
                          "order by dp_rank, filename, file_row_number", [glob])
        got = csv_text(columns, kinds, rel.fetchall())
        assert got == "\n".join([lines[0], *body]) + "\n", f"{table}: {first_diff(got, chr(10).join([lines[0], *body]))}"
