"""vsched_emitter.tables.load against the TypeScript TableSource, row for row, on every fixture.

Each recorded fixture is converted by the built CLI (CSV and Parquet, and once more
partitioned by dp_rank); dump_tables.ts (bundled with esbuild) writes what the TableSource
yields; the loader must return the same rows with every backend (plain Python, pandas,
Polars), from CSV and from Parquet, with the declared dtypes. A trace whose ids are ones
pd.read_csv mangles (NaN, 007, -0, formulas, a quote) is converted with
--spreadsheet-safe and must come back exactly.

Run with the analysis venv: "$(bash scripts/analysis_env.sh)/bin/python" -m pytest test/python/tables
"""
import contextlib
import functools
import gc
import gzip
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "emitter" / "src"))
from vsched_emitter import tables  # noqa: E402

FIXTURES = sorted(d.name for d in (ROOT / "fixtures").iterdir() if d.is_dir() and d.name != "data")
MANGLED_IDS = ["NaN", "007", "-0", "=1+1", "'quoted", "1e5", "null", "TRUE", "a,b\"c", "line\nbreak", "cr\rid", "-1"]


def fixture_inputs(name):
    d = ROOT / "fixtures" / name
    return [d / "trace"] if (d / "trace").is_dir() else sorted(d.glob("vsched-*.jsonl*"))


def vsched(*args):
    subprocess.run(["node", str(ROOT / "bin" / "vsched.js"), *map(str, args)], check=True, timeout=300)


@pytest.fixture(scope="session")
def dumper(tmp_path_factory):
    out = tmp_path_factory.mktemp("dump") / "dump_tables.mjs"
    subprocess.run([str(ROOT / "node_modules" / ".bin" / "esbuild"), str(Path(__file__).with_name("dump_tables.ts")),
                    "--bundle", "--platform=node", "--format=esm", "--log-level=warning", f"--outfile={out}",
                    "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"],
                   check=True, timeout=120, cwd=ROOT)
    return out


def relabel_ids(src: Path, dst: Path) -> Path:
    """The fixture's trace with its first request ids replaced by ids pd.read_csv would mangle."""
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt") as f:
        records = [json.loads(line) for line in f if line.strip()]
    rename, ids = {}, iter(MANGLED_IDS)
    for r in records:
        if r.get("type") == "arrival" and r["req"] not in rename:
            rename[r["req"]] = next(ids, r["req"])
    assert "h" in records[1], "an interned trace names each id only in its arrival record"
    for r in records:
        if r.get("type") == "arrival":
            r["req"] = rename[r["req"]]
    dst.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    return dst


@pytest.fixture(scope="session")
def converted(tmp_path_factory, dumper):
    """{case: (logs dir, TableSource dump dir)}"""
    base = tmp_path_factory.mktemp("logs")
    cases = {name: (fixture_inputs(name), ["--format", "both"]) for name in FIXTURES}
    mangled = relabel_ids(ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl", base / "vsched-1-dp0.jsonl")
    cases["mangled-ids-safe"] = ([mangled], ["--format", "both", "--spreadsheet-safe", "--version-header"])
    cases["mangled-ids"] = ([mangled], ["--format", "both"])
    cases["two-ranks-partitioned"] = ([ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl",
                                       ROOT / "fixtures" / "dp-rank-1" / "vsched-1-dp1.jsonl"],
                                      ["--format", "both", "--partition-by", "dp_rank"])
    out = {name: (base / name, base / f"{name}.dump") for name in cases}
    # ~45 independent converts and their dumps (a minute and a half on one core): side by side
    # on every core, the dumps in one node process per core
    workers = os.cpu_count() or 2
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(vsched, "convert", *inputs, "-o", out[name][0], "-q", "--lenient", *flags)
                     for name, (inputs, flags) in cases.items()]:
            done.result()
        pairs = list(out.values())
        dumps = [[str(p) for pair in pairs[i::workers] for p in pair] for i in range(workers)]
        for done in [pool.submit(subprocess.run, ["node", str(dumper), *chunk], check=True, timeout=600)
                     for chunk in dumps if chunk]:
            done.result()
    return out


def reference_columns(dump: Path, table: str) -> list:
    return json.loads((dump / f"{table}.columns.json").read_text())


def reference(dump: Path, table: str):
    # split on "\n" only: ids may hold U+2028, which str.splitlines() would split on; the rows
    # (each a JSON array) parsed as one array: one json.loads for a table of 600k rows, not 600k
    rows = json.loads("[" + ",".join(line for line in (dump / f"{table}.jsonl").read_text().split("\n") if line) + "]")
    return reference_columns(dump, table), rows


@functools.lru_cache(maxsize=8)  # a case's tables: its csv and parquet tests run one after the other
def expected(dump: Path, table: str, kinds: tuple) -> list:
    """The reference rows with comparable() applied, built once for both formats of a case
    (the tests only read them). comparable() changes only epoch_ns cells, so only those are visited."""
    _, rows = reference(dump, table)
    epoch = [i for i, k in enumerate(kinds) if k == "epoch_ns"]
    for row in rows:
        for i in epoch:
            row[i] = comparable(row[i], kinds[i])
    return rows


def comparable(value, kind):
    """The TableSource's value as the loader's plain backend gives it: epoch ns as int; the
    TableSource reads a quoted empty string as null (papaparse cannot tell them apart)."""
    if value is None:
        return None
    if kind == "epoch_ns":
        return int(value)
    return value


def round6(value, csv_value):
    """A Parquet float that the CSV's 6 decimals would print as csv_value becomes csv_value."""
    if value is None or csv_value is None or abs(value - csv_value) > 5.000001e-7 * max(1.0, abs(value)):
        return value
    return csv_value


def loader_rows(columns_by_name, names, kinds):
    """Rows of the loader's columns, "" as None except in json columns (column by column: fast)."""
    columns = [columns_by_name[n] if k == "json" else [None if v == "" else v for v in columns_by_name[n]]
               for n, k in zip(names, kinds)]
    return [list(row) for row in zip(*columns)]


def kinds_of(manifest, table):
    return {c["name"]: c for c in next(t for t in manifest["tables"] if t["name"] == table)["columns"]}


@contextlib.contextmanager
def no_cyclic_gc():
    """Millions of row lists are built below, none in a cycle: each automatic collection walks
    every live one, which took more than half the time of the largest cases (measured)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("case", FIXTURES + ["mangled-ids-safe", "mangled-ids", "two-ranks-partitioned"])
def test_plain_backend_equals_table_source(converted, case, fmt):
    with no_cyclic_gc():
        compare_plain_backend(*converted[case], case, fmt)


def compare_plain_backend(logs, dump, case, fmt):
    got = tables.load(logs, backend="python", fmt=fmt)
    compared = 0
    for table, columns in got.items():
        meta = kinds_of(got.manifest, table)
        names = reference_columns(dump, table)
        assert list(columns) == names, f"{table}: column order"
        kinds = [meta[n]["kind"] for n in names]
        want = expected(dump, table, tuple(kinds))
        got_rows = loader_rows(columns, names, kinds)
        if fmt == "parquet":
            # the reference is read from the CSV, whose floats have 6 decimals; Parquet keeps them whole
            floats = [i for i, k in enumerate(kinds) if k == "float"]
            for r, w in zip(got_rows, want):
                for i in floats:
                    r[i] = round6(r[i], w[i])
        assert got_rows == want, f"{case} {fmt} {table}"
        compared += len(want)
    assert compared > 0


def frame_columns(frame, backend):
    """{column: [Python values]} of a pandas or Polars frame, nulls (NA, NaN) as None."""
    if backend == "polars":
        return {c: [None if isinstance(v, float) and v != v else v for v in frame[c].to_list()] for c in frame.columns}
    out = {}
    for c in frame.columns:
        values = frame[c].astype(object).tolist()
        out[c] = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else (int(v) if hasattr(v, "dtype") and v.dtype.kind in "iu" else v) for v in values]
    return out


@pytest.mark.parametrize("backend", ["pandas", "polars"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("case", ["e2e-vllm-cpu", "hostile-ids", "mangled-ids-safe", "two-ranks-partitioned", "sessions-async"])
def test_pandas_and_polars_equal_the_plain_backend(converted, case, fmt, backend):
    """pandas and Polars go through Arrow when pyarrow is installed (_table_arrow.py): the
    same values as the plain reader, which test_plain_backend_equals_table_source ties to
    the TableSource."""
    logs, _ = converted[case]
    plain = tables.load(logs, backend="python", fmt=fmt)
    framed = tables.load(logs, backend=backend, fmt=fmt)
    assert list(framed) == list(plain)
    for table, columns in plain.items():
        got = frame_columns(framed[table], backend)
        assert list(got) == list(columns), table
        for name, values in columns.items():
            assert got[name] == [None if isinstance(v, float) and v != v else v for v in values], f"{case} {fmt} {backend} {table}.{name}"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_ids_pandas_would_mangle_survive(converted, fmt):
    for case in ("mangled-ids-safe", "mangled-ids"):
        logs, _ = converted[case]
        for backend in ("python", "pandas", "polars"):
            ids = list(tables.load(logs, backend=backend, fmt=fmt, tables=["per_request"])["per_request"]["request_id"])
            assert set(MANGLED_IDS) <= set(ids), f"{case} {fmt} {backend}: {sorted(set(MANGLED_IDS) - set(ids))}"
    safe_csv = (converted["mangled-ids-safe"][0] / "per_request.csv").read_text()
    assert "'=1+1" in safe_csv and "''quoted" in safe_csv and safe_csv.startswith("# vsched"), "the case must exercise the prefix"
    assert pd.read_csv(converted["mangled-ids"][0] / "per_request.csv")["request_id"].isna().any(), \
        "plain pd.read_csv must mangle these ids, or the case proves nothing"


def test_pandas_and_polars_dtypes_and_values(converted):
    logs, _ = converted["e2e-vllm-cpu"]
    plain = tables.load(logs, backend="python")
    pdf = tables.load(logs, backend="pandas")
    plf = tables.load(logs, backend="polars")
    for table, columns in plain.items():
        meta = kinds_of(plain.manifest, table)
        for name, values in columns.items():
            c = meta[name]
            s, p = pdf[table][name], plf[table][name]
            if c["kind"] in ("int", "epoch_ns"):
                assert str(s.dtype) == ("Int64" if c["nullable"] else "int64"), f"{table}.{name}"
                assert p.dtype == pl.Int64
            elif c["kind"] == "float":
                assert s.dtype == "float64" and p.dtype == pl.Float64
            elif c.get("values"):
                assert isinstance(s.dtype, pd.CategoricalDtype) and list(s.dtype.categories) == c["values"], f"{table}.{name}"
                assert p.dtype == pl.Enum(c["values"])
            else:
                assert isinstance(s.dtype, pd.StringDtype) and p.dtype == pl.String, f"{table}.{name}"
            as_python = [None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in s.tolist()]
            assert as_python == [None if isinstance(v, float) and v != v else v for v in values], f"pandas {table}.{name}"
            assert p.to_list() == values, f"polars {table}.{name}"
    epoch = pdf["per_request"]["arrival_time_epoch_ns"].tolist()
    assert any(v != int(float(v)) for v in epoch), "epoch ns beyond float precision, exactly"
    assert "memory_insufficient" in pdf["per_iteration_requests"]["waiting_reason"].cat.categories


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_ranks_filter(converted, fmt):
    logs, _ = converted["two-ranks-partitioned"]
    both = tables.load(logs, backend="python", fmt=fmt)
    one = tables.load(logs, backend="python", fmt=fmt, ranks=[1])
    for table, columns in both.items():
        keep = [i for i, r in enumerate(columns["dp_rank"]) if r == 1]
        assert {n: [v[i] for i in keep] for n, v in columns.items()} == one[table], table
    assert 0 < len(one["per_request"]["request_id"]) < len(both["per_request"]["request_id"])
    assert tables.load(logs, backend="python", fmt=fmt, ranks=7)["per_request"]["request_id"] == []


def test_schema_major_and_missing_manifest_are_clear(tmp_path, converted):
    with pytest.raises(tables.TablesError, match="manifest.json: missing"):
        tables.load(tmp_path)
    logs, _ = converted["aborts"]
    manifest = json.loads((logs / "manifest.json").read_text())
    manifest["output_schema_version"] = "2.0"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(tables.TablesError, match=r"output schema 2\.0, this reader knows 1\.x"):
        tables.load(tmp_path)
    ts_version = next(line for line in (ROOT / "src" / "schema" / "tables.ts").read_text().splitlines()
                      if line.startswith("export const OUTPUT_SCHEMA_VERSION"))
    assert f'"{tables.SUPPORTED_MAJOR}.' in ts_version, "the loader's major follows the writer's"


def test_docs_example_runs(converted):
    logs, _ = converted["e2e-vllm-cpu"]
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "python-loader-example.py"), str(logs)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "emitter" / "src")})
    assert result.returncode == 0, result.stderr
    assert "requests: 30" in result.stdout


def test_csv_reader_keeps_empty_string_apart_from_null(tmp_path):
    """The CSV format writes null as an empty field and "" as a quoted empty field (a trace
    cannot carry an empty request id, so no fixture has one: this file is the format itself)."""
    (tmp_path / "t.csv").write_text('a,b,c\n"",,7\n"x\n""y""",z,\n')
    meta = [{"name": "a", "kind": "string"}, {"name": "b", "kind": "string"}, {"name": "c", "kind": "int"}]
    from vsched_emitter._table_csv import read_csv_columns
    assert read_csv_columns(str(tmp_path / "t.csv"), meta, set()) == {"a": ["", 'x\n"y"'], "b": [None, "z"], "c": [7, None]}
