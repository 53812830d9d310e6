"""The emitter's records against the one raw-trace contract (schema/raw-trace.schema.json,
generated from src/schema/raw.ts): the schema version it writes is the one the contract
declares, and every key it writes is declared (a key the CLI does not know would be
silently ignored), with every required key present."""
import json

import vsched_testlib as lib
from vsched_emitter import gpu_stats, gpu_time, host_cpu, interned, kv_connector, machine
from vsched_emitter.records import PREDICTION_SCHEMA_VERSION, SCHEMA_VERSION, SESSION_SCHEMA_VERSION

SCHEMA = json.loads(lib.SCHEMA_PATH.read_text())
BY_TYPE = {o["properties"]["type"]["const"]: o for o in SCHEMA["oneOf"]}


def test_schema_versions_are_the_contracts():
    # the newest version the emitter writes (the interned form, its default) is the
    # contract's; VLLM_SCHEDULER_LOG_FORMAT=plain writes an older minor (1.2 with the session
    # hook, 1.1 with predictions, else 1.0), which the same reader accepts
    # 1.4 (gpu and kv records), 1.5 (step.cpu), 1.6 (update.gpu) and 1.7 (the GPUs' UUIDs, the
    # host CPU's model) are declared only by traces that hold them (NVML sampled, a KV connector,
    # schedstat read, the model runner timed)
    contract = SCHEMA["$id"].split("raw-trace-")[1].removesuffix(".json")
    assert machine.MACHINE_SCHEMA_VERSION == contract
    assert f"schema {contract}" in SCHEMA["title"]
    for older in (SCHEMA_VERSION, PREDICTION_SCHEMA_VERSION, SESSION_SCHEMA_VERSION, interned.SCHEMA_VERSION,
                  gpu_stats.GPU_SCHEMA_VERSION, kv_connector.KV_SCHEMA_VERSION, host_cpu.CPU_SCHEMA_VERSION,
                  gpu_time.GPU_TIME_SCHEMA_VERSION):
        assert older.split(".")[0] == contract.split(".")[0]
        assert int(older.split(".")[1]) < int(contract.split(".")[1])


def test_every_written_key_is_declared_and_every_required_key_written(scenarios):
    seen = set()
    for case in scenarios.values():
        for rec in case.trace:
            decl = BY_TYPE[rec["type"]]
            assert set(rec) <= set(decl["properties"]), (rec["type"], set(rec) - set(decl["properties"]))
            assert set(decl.get("required", [])) <= set(rec), (rec["type"], set(decl["required"]) - set(rec))
            seen.add(rec["type"])
    assert {"header", "arrival", "step", "update", "end"} <= seen
