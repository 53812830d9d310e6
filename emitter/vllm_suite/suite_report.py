"""The gate's verdict (pure: results in, a plain dict out) and its text rendering."""
from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict

OUTCOMES = ("passed", "failed", "error", "skipped")


def _match(pattern: str, name: str) -> bool:
    if pattern.endswith("[*]") and name == pattern[:-3]:
        return True
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


def _applies(e, version: str) -> bool:
    return any(fnmatch.fnmatchcase(version, v) for v in e.versions)


def parity(runs: dict) -> dict:
    off, on = runs["off"]["tests"], runs["on"]["tests"]
    ids = sorted(set(off) | set(on))
    diffs = []
    for t in ids:
        a, b = off.get(t, {}).get("outcome", "missing"), on.get(t, {}).get("outcome", "missing")
        same = a == b or (a in ("failed", "error") and b in ("failed", "error"))
        if not same:
            diffs.append({"test": t, "off": a, "on": b, "message": on.get(t, {}).get("message", "")})
    both_failed = Counter(
        off[t].get("message", "")[:160] for t in ids
        if off.get(t, {}).get("outcome") in ("failed", "error") and on.get(t, {}).get("outcome") in ("failed", "error"))
    counts = {m: Counter(v.get("outcome") for v in runs[m]["tests"].values()) for m in ("off", "on")}
    seconds = {m: runs[m].get("seconds") for m in ("off", "on")}
    return {"tests": len(ids), "diffs": diffs, "counts": counts, "both_failed": both_failed, "seconds": seconds}


def _classify(rel: str, test: str | None, res: dict, exceptions, version: str, used: dict):
    """'ok', 'excepted' or 'failed', and the exception entries that excused it."""
    failing = []
    if res["convert"] != 0:
        failing.append(("convert", res["codes"].get("convert", [])))
    if res["convert"] in (0, 1) and res["validate"] != 0:
        failing.append(("validate", res["codes"].get("validate", [])))
    if not failing:
        return "ok", []
    excused = []
    for stage, codes in failing:
        hit = None
        for i, e in enumerate(exceptions):
            if (e.stage == stage and _applies(e, version) and test is not None and _match(e.test, test)
                    and fnmatch.fnmatchcase(rel.split("/", 1)[1], e.trace) and codes and set(codes) <= set(e.codes)):
                hit = i
                break
        if hit is None:
            return "failed", []
        used[hit].append(rel)
        excused.append(hit)
    return "excepted", excused


def evaluate(runs: dict, traces: dict, exceptions, *, version: str) -> dict:
    par = parity(runs)
    dir_to_test = {v["trace_dir"]: t for t, v in runs["on"]["tests"].items() if v.get("trace_dir")}
    used = defaultdict(list)
    per_trace = {}
    for rel, res in traces.items():
        test = dir_to_test.get(rel.split("/", 1)[0])
        status, excused = _classify(rel, test, res, exceptions, version, used)
        per_trace[rel] = {**res, "test": test, "status": status, "excused_by": excused}
    status_counts = Counter(v["status"] for v in per_trace.values())
    ran = set(runs["on"]["tests"])
    stale = [i for i, e in enumerate(exceptions) if _applies(e, version) and i not in used
             and any(_match(e.test, t) for t in ran)]
    n_trace_checks = len(per_trace)
    # an emitter that never recorded would make every trace check vacuous
    no_traces = int(not per_trace and par["counts"]["on"]["passed"] > 0)
    checks_failed = len(par["diffs"]) + status_counts["failed"] + no_traces
    return {
        "version": version,
        "parity": par,
        "traces": per_trace,
        "trace_counts": {
            "produced": len(per_trace),
            "tests_with_traces": len({v["test"] for v in per_trace.values()}),
            "converted": sum(1 for v in per_trace.values() if v["convert"] == 0),
            "validated": sum(1 for v in per_trace.values() if v["convert"] == 0 and v["validate"] == 0),
            **{k: status_counts[k] for k in ("ok", "excepted", "failed")},
        },
        "exceptions_used": {i: sorted(v) for i, v in used.items()},
        "stale": stale,
        "no_traces": bool(no_traces),
        "exceptions": [e.__dict__ for e in exceptions],
        "checks": {"passed": par["tests"] - len(par["diffs"]) + status_counts["ok"],
                   "failed": checks_failed, "excepted": status_counts["excepted"],
                   "total": par["tests"] + n_trace_checks},
    }


def render(r: dict, *, strict_exceptions: bool = False) -> str:
    p = r["parity"]
    off, on = p["counts"]["off"], p["counts"]["on"]
    lines = [f"vLLM {r['version']}: its own scheduler tests, without and with the vsched emitter", "",
             f"  {'':28}{'without emitter':>16}{'with emitter':>14}"]
    lines.append(f"  {'tests run':28}{sum(off.values()):>16}{sum(on.values()):>14}")
    for k in OUTCOMES:
        lines.append(f"  {k:28}{off[k]:>16}{on[k]:>14}")
    lines.append(f"  {'pytest wall time (s)':28}{str(p['seconds']['off']):>16}{str(p['seconds']['on']):>14}")
    lines.append(f"  {'outcome differs (must be 0)':28}{len(p['diffs']):>16}{'':>14}")
    for d in p["diffs"][:20]:
        lines.append(f"    {d['test']}: without {d['off']}, with {d['on']}  {d['message'][:120]}")
    if p["both_failed"]:
        lines += ["", "  failing in both runs (not caused by the emitter), by message:"]
        for msg, n in p["both_failed"].most_common():
            lines.append(f"    {n:4}  {msg[:150]}")
    t = r["trace_counts"]
    lines += ["", f"  traces produced   {t['produced']:5}  (by {t['tests_with_traces']} tests)",
              f"  converted         {t['converted']:5}  (vsched convert exit 0)",
              f"  validated         {t['validated']:5}  (vsched validate exit 0 on the converted tables)",
              f"  excepted          {t['excepted']:5}  (suite_exceptions.py, below)",
              f"  failed            {t['failed']:5}"]
    if r.get("no_traces"):
        lines.append("    no trace at all although tests passed with the emitter on -- FAIL")
    failed = [(rel, v) for rel, v in r["traces"].items() if v["status"] == "failed"]
    for rel, v in failed[:30]:
        lines.append(f"    {rel}: convert {v['convert']} {v['codes'].get('convert', [])}, "
                     f"validate {v['validate']} {v['codes'].get('validate', [])}")
    if r["exceptions_used"]:
        lines += ["", "  excepted traces (suite_exceptions.py), by reason:"]
        groups: dict = {}
        for i, rels in sorted(r["exceptions_used"].items()):
            e = r["exceptions"][i]
            groups.setdefault((e["kind"], e["stage"], ",".join(e["codes"]), e["reason"]), []).append((e["test"], len(rels)))
        for (kind, stage, codes, reason), tests in groups.items():
            n = sum(k for _, k in tests)
            lines.append(f"    [{kind}] {stage} {codes}: {n} trace(s) of {len(tests)} test(s)")
            lines.append(f"        {reason}")
            for test, k in tests:
                lines.append(f"        {k:3}  {test.split('/')[-1]}")
    if r["stale"]:
        lines += ["", "  stale exceptions (matched nothing: delete them)" + (" -- FAIL" if strict_exceptions else "")]
        for i in r["stale"]:
            e = r["exceptions"][i]
            lines.append(f"    [{e['kind']}] {e['stage']} {','.join(e['codes'])}: {e['test']}")
    s = r.get("seconds")
    if s:
        lines += ["", f"  wall time: {s['total']} s (setup {s['setup']}, pytest {s['pytest']}, "
                      f"convert+validate {s['traces']}); CPU {s['cpu_total']} s (pytest both runs "
                      f"{s['cpu_pytest']}, convert+validate {s['cpu_traces']})"]
    c = r["checks"]
    n_failed = c["failed"] + (len(r["stale"]) if strict_exceptions else 0)
    lines += ["", f"{c['passed']} passed, {n_failed} failed, {c['excepted']} excepted "
                  f"(checks: {p['tests']} tests with = without the emitter, {t['produced']} traces convert+validate)"]
    return "\n".join(lines)
