import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InputError, UsageError } from "../core/errors.js";
import type { HeaderRecord } from "../schema/raw.js";

/**
 * Running vLLM's real scheduler through the emitter's harness
 * (`python -m vsched_emitter.harness`) for vsched simulate: which Python, which knobs,
 * and the child process. The harness lives in this checkout's emitter/src, put first on
 * PYTHONPATH so a shared venv never runs another checkout's code.
 */
export type SchedulerConfig = HeaderRecord["config"];

/** The knobs simulate can change, with the harness flag each maps to. */
export const SETTABLE = {
  max_num_seqs: "int",
  max_num_batched_tokens: "int",
  max_model_len: "int",
  num_gpu_blocks: "int",
  block_size: "int",
  long_prefill_token_threshold: "int",
  max_loras: "int",
  policy: "policy",
  chunked_prefill: "bool",
  prefix_caching: "bool",
  async_scheduling: "bool",
} as const;
export type SettableKnob = keyof typeof SETTABLE;

export interface Knobs {
  max_num_seqs: number;
  max_num_batched_tokens: number;
  max_model_len: number;
  num_gpu_blocks: number;
  block_size: number;
  long_prefill_token_threshold: number;
  max_loras: number | null;
  policy: string;
  chunked_prefill: boolean;
  prefix_caching: boolean;
  async_scheduling: boolean;
}

export function knobsOf(c: SchedulerConfig): Knobs {
  return {
    max_num_seqs: c.max_num_seqs, max_num_batched_tokens: c.max_num_batched_tokens, max_model_len: c.max_model_len,
    num_gpu_blocks: c.num_gpu_blocks, block_size: c.block_size, long_prefill_token_threshold: c.long_prefill_token_threshold,
    max_loras: c.max_loras, policy: c.policy, chunked_prefill: c.enable_chunked_prefill, prefix_caching: c.enable_prefix_caching,
    async_scheduling: c.async_scheduling,
  };
}

/** Applies `--set key=value` overrides; unknown keys and unreadable values are usage errors. */
export function applySets(k: Knobs, sets: readonly string[]): Knobs {
  const out: Knobs = { ...k };
  for (const s of sets) {
    const m = /^([a-z_]+)=(.+)$/.exec(s.trim());
    const key = m?.[1] as SettableKnob | undefined;
    if (!m || !key || !(key in SETTABLE)) throw new UsageError(`--set: cannot read '${s}'; expected KEY=VALUE with KEY one of ${Object.keys(SETTABLE).join(", ")}`);
    const v = m[2];
    const kind = SETTABLE[key];
    if (kind === "int") {
      if (!/^\d+$/.test(v)) throw new UsageError(`--set ${key}: expected a whole number, got '${v}'`);
      (out as unknown as Record<string, unknown>)[key] = Number(v);
    } else if (kind === "bool") {
      if (!/^(true|false|1|0|on|off)$/.test(v)) throw new UsageError(`--set ${key}: expected true or false, got '${v}'`);
      (out as unknown as Record<string, unknown>)[key] = /^(true|1|on)$/.test(v);
    } else {
      if (v !== "fcfs" && v !== "priority") throw new UsageError(`--set policy: expected fcfs or priority, got '${v}'`);
      out.policy = v;
    }
  }
  return out;
}

export function harnessKnobArgs(k: Knobs): string[] {
  if (k.policy !== "fcfs" && k.policy !== "priority") throw new UsageError(`the run used policy '${k.policy}', which the harness cannot drive; pass --set policy=fcfs or --set policy=priority`);
  const flag = (on: boolean, name: string) => (on ? `--${name}` : `--no-${name}`);
  return [
    "--max-num-seqs", String(k.max_num_seqs), "--max-num-batched-tokens", String(k.max_num_batched_tokens),
    "--max-model-len", String(k.max_model_len), "--num-blocks", String(k.num_gpu_blocks), "--block-size", String(k.block_size),
    "--long-prefill-token-threshold", String(k.long_prefill_token_threshold), "--policy", k.policy,
    flag(k.chunked_prefill, "enable-chunked-prefill"), flag(k.prefix_caching, "enable-prefix-caching"), flag(k.async_scheduling, "async-scheduling"),
    ...(k.max_loras !== null ? ["--max-loras", String(k.max_loras)] : []),
  ];
}

/** This checkout's emitter/src (searched upward from this file: src/sim/ in tests, dist/ when bundled). */
export function emitterSrc(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const cand = path.join(dir, "emitter", "src");
    if (existsSync(path.join(cand, "vsched_emitter", "harness", "__main__.py"))) return cand;
    dir = path.dirname(dir);
  }
  throw new InputError("the emitter's harness is not next to this vsched (emitter/src/vsched_emitter/harness)", "SIM_NO_HARNESS");
}

export const PYTHON_ENV = "VSCHED_PYTHON";

/**
 * The Python to run: --python, else $VSCHED_PYTHON, else a harness venv that
 * emitter/scripts/vllm_env.sh built in ~/.cache/vsched (or $VSCHED_CACHE): the trace's vLLM
 * version, else the nearest version built. Only a finished venv counts (vllm_env.sh writes
 * `.ready` last): one still being built has a python but no vLLM yet.
 */
export function findPython(explicit: string | undefined, vllmVersion: string, env = process.env): string {
  const given = explicit ?? env[PYTHON_ENV];
  if (given) {
    if (!existsSync(given)) throw new InputError(`no such Python (from ${explicit ? "--python" : PYTHON_ENV})`, "SIM_NO_PYTHON", given);
    return given;
  }
  const cache = env.VSCHED_CACHE ?? path.join(os.homedir(), ".cache", "vsched");
  const venvs = existsSync(cache)
    ? readdirSync(cache).filter((d) => /^venv-vllm-\d/.test(d) && existsSync(path.join(cache, d, "bin", "python")) && existsSync(path.join(cache, d, ".ready")))
    : [];
  const pick = nearestVersion(venvs, vllmVersion);
  if (!pick) throw new InputError(`no Python with vLLM found: pass --python PATH, set ${PYTHON_ENV}, or build the harness venv with: bash emitter/scripts/vllm_env.sh 0.33.0`, "SIM_NO_PYTHON");
  return path.join(cache, pick, "bin", "python");
}

const versionOf = (venv: string) => (/^venv-vllm-(\d+)\.(\d+)\.(\d+)/.exec(venv) ?? []).slice(1).map(Number);

/** The venv of exactly `version`, else the one nearest to it (minor versions apart; the newer on a tie). */
export function nearestVersion(venvs: readonly string[], version: string): string | undefined {
  const exact = venvs.find((d) => d.startsWith(`venv-vllm-${version}-`));
  if (exact) return exact;
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const distance = (d: string) => {
    const [ma = 0, mi = 0] = versionOf(d);
    return Math.abs((ma - major) * 1000 + (mi - minor));
  };
  const newer = (a: string, b: string) => {
    const [x, y] = [versionOf(a), versionOf(b)];
    for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
    return 0;
  };
  return [...venvs].sort((a, b) => distance(a) - distance(b) || newer(a, b))[0];
}

function dataDirEnv(): Record<string, string> {
  const dir = path.join(path.dirname(path.dirname(emitterSrc())), "fixtures", "data");
  return existsSync(dir) ? { VSCHED_DATA_DIR: dir } : {};
}

export interface HarnessRun {
  python: string;
  args: string[];
  cwd: string;
  /** a directory put on PYTHONPATH after the harness, where a researcher's policy module lives */
  importFrom?: string;
}

/** Runs the harness; resolves with its stdout, or throws naming its last stderr line. */
export function runHarness(run: HarnessRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(run.python, ["-m", "vsched_emitter.harness", ...run.args], {
      cwd: run.cwd,
      env: {
        ...process.env, PYTHONPATH: [emitterSrc(), run.importFrom, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
        // the splitwise table ships in fixtures/data (the harness's own default is ../shared/data)
        ...(process.env.VSCHED_DATA_DIR ? {} : dataDirEnv()),
        PYTHONHASHSEED: "0", TZ: "UTC", VLLM_LOGGING_LEVEL: "ERROR", HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", (e) => reject(new InputError(`cannot run it: ${e.message}`, "SIM_NO_PYTHON", run.python)));
    child.on("close", (code) => {
      if (code === 0) return resolve(out);
      const last = err.trim().split("\n").filter((l) => !/^\s*$/.test(l)).pop() ?? `exit code ${code}`;
      reject(new InputError(`the harness failed: ${last}`, "SIM_HARNESS_FAILED", run.python));
    });
  });
}
