"""Reading `vsched timeline` output independently of vsched: the protobuf form through
Perfetto's own generated classes (perfetto_trace_pb2) and the TrackEvent rules for
interning, sequence flags and defaults as Perfetto documents them; the JSON form through
json.load. Both are reduced to the same plain model, which the tests compare with the
CSV tables that `vsched convert` wrote from the same trace."""
import json
from collections import defaultdict
from decimal import Decimal

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

TE = pb.TrackEvent
CLEARED = pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
NEEDS = pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE


class Model:
    """tracks: uuid -> {name, parent, pid, counter}; events: per track, in file order."""

    def __init__(self):
        self.tracks = {}
        self.events = defaultdict(list)  # track -> [(ts, kind, name, args, flows_out, flows_in)]
        self.counters = defaultdict(list)  # track -> [(ts, value)]


def _annotation_value(a, strings):
    which = a.WhichOneof("value")
    if which == "string_value_iid":
        return strings[a.string_value_iid]
    if which in ("int_value", "uint_value", "string_value", "bool_value", "double_value"):
        return getattr(a, which)
    raise AssertionError(f"unexpected annotation value {which}")


def decode_proto(data: bytes) -> Model:
    trace = pb.Trace()
    trace.ParseFromString(data)
    m = Model()
    seqs = {}
    for pkt in trace.packet:
        if pkt.HasField("track_descriptor"):
            td = pkt.track_descriptor
            assert td.uuid not in m.tracks, f"track {td.uuid} described twice"
            m.tracks[td.uuid] = {
                "name": td.name if td.HasField("name") else None,
                "parent": td.parent_uuid if td.HasField("parent_uuid") else None,
                "pid": td.process.pid if td.HasField("process") else None,
                "process_name": td.process.process_name if td.HasField("process") else None,
                "counter": td.HasField("counter"),
            }
            continue
        sid = pkt.trusted_packet_sequence_id
        assert sid, "every packet names its sequence"
        if pkt.sequence_flags & CLEARED:
            seqs[sid] = {"names": {}, "ann": {}, "str": {}, "track": None, "extra": []}
            if pkt.HasField("trace_packet_defaults"):
                d = pkt.trace_packet_defaults.track_event_defaults
                seqs[sid]["track"] = d.track_uuid if d.HasField("track_uuid") else None
                seqs[sid]["extra"] = list(d.extra_counter_track_uuids)
        st = seqs[sid]  # KeyError: a packet before its sequence was cleared
        if pkt.HasField("interned_data"):
            assert pkt.sequence_flags & NEEDS
            for e in pkt.interned_data.event_names:
                st["names"][e.iid] = e.name
            for e in pkt.interned_data.debug_annotation_names:
                st["ann"][e.iid] = e.name
            for e in pkt.interned_data.debug_annotation_string_values:
                st["str"][e.iid] = e.str.decode("utf-8")
        if not pkt.HasField("track_event"):
            continue
        assert pkt.sequence_flags & NEEDS, "events rely on the sequence's interned data and defaults"
        ev = pkt.track_event
        track = ev.track_uuid if ev.HasField("track_uuid") else st["track"]
        assert track in m.tracks, f"event on undescribed track {track}"
        name = ev.name if ev.HasField("name") else (st["names"][ev.name_iid] if ev.HasField("name_iid") else None)
        args = {}
        for a in ev.debug_annotations:
            key = a.name if a.HasField("name") else st["ann"][a.name_iid]
            args[key] = _annotation_value(a, st["str"])
        kind = {TE.TYPE_SLICE_BEGIN: "B", TE.TYPE_SLICE_END: "E", TE.TYPE_INSTANT: "I"}[ev.type]
        m.events[track].append((pkt.timestamp, kind, name, args, list(ev.flow_ids), list(ev.terminating_flow_ids)))
        if ev.extra_counter_values:
            uuids = list(ev.extra_counter_track_uuids) or st["extra"]
            assert len(uuids) == len(ev.extra_counter_values)
            for u, v in zip(uuids, ev.extra_counter_values):
                assert m.tracks[u]["counter"]
                m.counters[u].append((pkt.timestamp, v))
    return m


def _ns(us) -> int:
    ns = Decimal(us) * 1000
    assert ns == ns.to_integral_value(), f"{us} µs is not a whole number of ns"
    return int(ns)


def decode_json(text: str) -> Model:
    """Chrome JSON: X events become B/E pairs in the order a stack reader needs (start, then longer first)."""
    doc = json.loads(text, parse_float=Decimal)
    m = Model()
    names = {}
    xs = defaultdict(list)
    flows = []
    for e in doc["traceEvents"]:
        ph = e["ph"]
        if ph == "M":
            if e["name"] == "process_name":
                m.tracks[("p", e["pid"])] = {"name": None, "parent": None, "pid": e["pid"], "process_name": e["args"]["name"], "counter": False}
            elif e["name"] == "thread_name":
                names[(e["pid"], e["tid"])] = e["args"]["name"]
        elif ph == "X":
            xs[(e["pid"], e["tid"])].append((_ns(e["ts"]), _ns(e["dur"]), e["name"], e.get("args", {})))
        elif ph == "C":
            key = ("c", e["pid"], e["name"])
            m.tracks.setdefault(key, {"name": e["name"], "parent": ("p", e["pid"]), "pid": None, "process_name": None, "counter": True})
            m.counters[key].append((_ns(e["ts"]), e["args"]["value"]))
        elif ph == "i":
            xs[(e["pid"], e["tid"])].append((_ns(e["ts"]), None, e["name"], {}))
        elif ph in ("s", "f"):
            flows.append(e)
        else:
            raise AssertionError(f"unexpected phase {ph}")
    for (pid, tid), evs in xs.items():
        key = ("t", pid, tid)
        m.tracks[key] = {"name": names[(pid, tid)], "parent": ("p", pid), "pid": None, "process_name": None, "counter": False}
        out = []
        stack = []
        # instants after slices starting at the same ts; longer slices first (they hold the shorter)
        for ts, dur, name, args in sorted(evs, key=lambda x: (x[0], x[1] is None, -(x[1] or 0))):
            while stack and stack[-1] <= ts:
                out.append((stack.pop(), "E", None, {}, [], []))
            if dur is None:
                out.append((ts, "I", name, args, [], []))
                continue
            if stack:
                assert ts + dur <= stack[-1], f"{name} at {ts} overlaps its enclosing slice on {key}"
            out.append((ts, "B", name, args, [], []))
            stack.append(ts + dur)
        while stack:
            out.append((stack.pop(), "E", None, {}, [], []))
        m.events[key] = out
    # bind flows: "s" to the slice beginning at its ts named preempted, "f" to the slice beginning at its ts
    for f in flows:
        key = ("t", f["pid"], f["tid"])
        ts = _ns(f["ts"])
        evs = m.events[key]
        idx = [i for i, e in enumerate(evs) if e[1] == "B" and e[0] == ts and (e[2] == "preempted") == (f["ph"] == "s")]
        assert len(idx) == 1, f"flow {f['id']} ({f['ph']}) binds to {len(idx)} slices"
        (evs[idx[0]][4] if f["ph"] == "s" else evs[idx[0]][5]).append(f["id"])
    return m


def slices(m: Model, track):
    """(start, end, depth, name, args, flows_out, flows_in, parent_index) per slice; asserts the stack discipline in file order."""
    out = []
    stack = []
    last_ts = None
    for ts, kind, name, args, fo, fi in m.events[track]:
        assert last_ts is None or ts >= last_ts, f"track {track}: time goes back at {ts}"
        last_ts = ts
        if kind == "B":
            out.append([ts, None, len(stack), name, args, fo, fi, stack[-1] if stack else None])
            stack.append(len(out) - 1)
        elif kind == "E":
            assert stack, f"track {track}: an end at {ts} with no open slice"
            out[stack.pop()][1] = ts
        else:
            out.append([ts, ts, len(stack), name, args, fo, fi, stack[-1] if stack else None])
    assert not stack, f"track {track}: {len(stack)} slices never end"
    return out
