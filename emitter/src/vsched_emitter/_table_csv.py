"""vsched's CSV tables read column-wise with the standard library (tables.load uses it).

The format (manifest.json "csv"): "\\n" line ends, RFC 4180 quoting only where a field holds
, " CR or LF, an empty field for null and ``""`` for an empty string, an optional
``# vsched …`` first line. The csv module cannot tell an empty field from ``""`` before
Python 3.12, so quoted lines go through a small tokenizer; lines without a quote (nearly
all) are split directly.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^,"\n]*)')


def _split_quoted(text: str, where: str) -> List[Optional[str]]:
    fields: List[Optional[str]] = []
    pos, end = 0, len(text)
    while True:
        m = _FIELD.match(text, pos)
        quoted, raw = m.group(1), m.group(2)
        fields.append(quoted.replace('""', '"') if quoted is not None else (raw or None))
        pos = m.end()
        if pos >= end:
            return fields
        if text[pos] != ",":
            raise ValueError(f"{where}: a quote inside an unquoted field (run vsched validate)")
        pos += 1
        if pos == end:
            fields.append(None)
            return fields


def _rows(path: str):
    """(line number, fields) per row, header included; quoted fields may span lines."""
    with open(path, encoding="utf-8", newline="\n") as f:  # lines end at "\n" only (a quoted id may hold CR)
        pending, start = None, 0
        for number, line in enumerate(f, 1):
            line = line[:-1] if line.endswith("\n") else line
            if pending is not None:
                pending += "\n" + line
                if pending.count('"') % 2:
                    continue
                line, pending = pending, None
            elif '"' in line and line.count('"') % 2:
                pending, start = line, number
                continue
            else:
                start = number
            if line == "":
                continue
            if '"' in line:
                yield start, _split_quoted(line, f"{path}:{start}")
            else:
                yield start, [f if f else None for f in line.split(",")]
        if pending is not None:
            raise ValueError(f"{path}:{start}: a quoted field never closes (the file was cut off?)")


def _int(text: str) -> int:
    return int(text)


_PARSE: Dict[str, Callable[[str], Any]] = {"int": _int, "epoch_ns": _int, "float": float, "string": str, "json": str}


def read_csv_columns(path: str, columns: Sequence[Dict[str, Any]], strip_quote: Set[str]) -> Dict[str, List[Any]]:
    """{column: values} with ints, floats, strings and None; `strip_quote` columns lose a leading '."""
    kinds = {c["name"]: c["kind"] for c in columns}
    rows = _rows(path)
    header: Optional[List[str]] = None
    for line, fields in rows:
        if header is None and line == 1 and fields and (fields[0] or "").startswith("# vsched"):
            continue
        header = [f or "" for f in fields]
        break
    if header is None:
        return {c["name"]: [] for c in columns}
    out: Dict[str, List[Any]] = {h: [] for h in header}
    lists = [out[h] for h in header]
    parse = [_PARSE.get(kinds.get(h, "string"), str) for h in header]
    strip = [h in strip_quote for h in header]
    width = len(header)
    for line, fields in rows:
        if len(fields) != width:
            raise ValueError(f"{path}:{line}: {len(fields)} fields, the header has {width} (run vsched validate)")
        for k in range(width):
            v = fields[k]
            if not v:
                # None: an empty field (null); "": a quoted empty string, text columns only
                lists[k].append(v if v == "" and parse[k] is str else None)
                continue
            if strip[k] and v[0] == "'":
                v = v[1:]
            try:
                lists[k].append(parse[k](v))
            except ValueError:
                raise ValueError(f"{path}:{line}: column {header[k]}: {v[:40]!r} is not {kinds.get(header[k])}") from None
    return out

