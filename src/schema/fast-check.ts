import type { z } from "zod";

/**
 * A validator compiled from a zod declaration, for the hot path of reading traces:
 * zod's own safeParse costs about half of JSON.parse per record, this a fraction of it.
 * It accepts exactly what the declaration accepts (test/fast-check.test.ts compares the
 * two on real and mutated records) and reports the first issue as a dotted path and a
 * sentence. Kinds it does not know fall back to zod itself, so it is never laxer.
 */
export interface CheckIssue {
  path: (string | number)[];
  message: string;
}
export type Checker = (value: unknown) => CheckIssue | null;
type Node = (value: unknown, path: (string | number)[]) => CheckIssue | null;

interface Def {
  type: string;
  checks?: { _zod: { def: Record<string, unknown> } }[];
  [k: string]: unknown;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

export function compileChecker(schema: z.ZodType): Checker {
  const node = compile(schema);
  const valid = compileValid(schema);
  // the generated test answers the common case (a valid record) in straight-line code; a
  // record it refuses goes through the closures, which name the issue
  const check: Checker = (v) => (valid(v) ? null : node(v, []));
  return check;
}

/**
 * Whether a value is valid, as one generated function (no issue, no path): the closures above
 * cost a call per node, and a step record holds hundreds of [id, tokens, before] tuples. It
 * accepts exactly what the closures accept (test/fast-check.test.ts compares it with them and
 * with zod); a kind it does not know calls that kind's closure.
 */
export function compileValid(schema: z.ZodType): (value: unknown) => boolean {
  const consts: unknown[] = [];
  let vars = 0;
  const K = (x: unknown): string => `K[${consts.push(x) - 1}]`;
  const fresh = (stem: string): string => `${stem}${vars++}`;
  const gen = (s: z.ZodType, v: string): string => {
    const def = defOf(s);
    switch (def.type) {
      case "string": {
        let max = Infinity;
        let min = 0;
        const tests: string[] = [];
        for (const c of def.checks ?? []) {
          const d = c._zod.def;
          if (d.check === "string_format" && d.format === "regex" && !(d.pattern as RegExp).global && !(d.pattern as RegExp).sticky) tests.push(`!${K(d.pattern)}.test(${v})`);
          else if (d.check === "max_length") max = d.maximum as number;
          else if (d.check === "min_length") min = d.minimum as number;
          else return closure(s, v);
        }
        const conds = [`typeof ${v} !== "string"`];
        if (max !== Infinity) conds.push(`${v}.length > ${K(max)}`);
        if (min > 0) conds.push(`${v}.length < ${K(min)}`);
        return `if (${[...conds, ...tests].join(" || ")}) return false;\n`;
      }
      case "number": {
        const conds = [`typeof ${v} !== "number"`, `!Number.isFinite(${v})`];
        for (const c of def.checks ?? []) {
          const d = c._zod.def;
          if (d.check === "number_format" && d.format === "safeint") conds.push(`!Number.isSafeInteger(${v})`);
          else if (d.check === "greater_than") conds.push(d.inclusive ? `${v} < ${K(d.value)}` : `${v} <= ${K(d.value)}`);
          else if (d.check === "less_than") conds.push(d.inclusive ? `${v} > ${K(d.value)}` : `${v} >= ${K(d.value)}`);
          else return closure(s, v);
        }
        return `if (${conds.join(" || ")}) return false;\n`;
      }
      case "boolean":
        return `if (typeof ${v} !== "boolean") return false;\n`;
      case "literal":
        return `if (!${K(def.values)}.includes(${v})) return false;\n`;
      case "enum":
        return `if (!${K(new Set(Object.values(def.entries as Record<string, unknown>)))}.has(${v})) return false;\n`;
      case "nullable":
        return `if (${v} !== null) {\n${gen(def.innerType as z.ZodType, v)}}\n`;
      case "optional":
        return `if (${v} !== undefined) {\n${gen(def.innerType as z.ZodType, v)}}\n`;
      case "array": {
        const i = fresh("i");
        const e = fresh("e");
        return `if (!Array.isArray(${v})) return false;\nfor (let ${i} = 0; ${i} < ${v}.length; ${i}++) {\nconst ${e} = ${v}[${i}];\n${gen(def.element as z.ZodType, e)}}\n`;
      }
      case "tuple": {
        if (def.rest) return closure(s, v);
        const items = def.items as z.ZodType[];
        let out = `if (!Array.isArray(${v}) || ${v}.length !== ${items.length}) return false;\n`;
        items.forEach((item, k) => {
          const e = fresh("t");
          out += `{\nconst ${e} = ${v}[${k}];\n${gen(item, e)}}\n`;
        });
        return out;
      }
      case "object": {
        const shape = def.shape as Record<string, z.ZodType>;
        let out = `if (${v} === null || typeof ${v} !== "object" || Array.isArray(${v})) return false;\n`;
        for (const key of Object.keys(shape)) {
          const e = fresh("o");
          out += `{\nconst ${e} = ${v}[${JSON.stringify(key)}];\n`;
          if (defOf(shape[key]).type !== "optional") out += `if (${e} === undefined) return false;\n`;
          out += `${gen(shape[key], e)}}\n`;
        }
        return out;
      }
      case "record": {
        const x = fresh("x");
        return `if (${v} === null || typeof ${v} !== "object" || Array.isArray(${v})) return false;\nfor (const ${x} of Object.values(${v})) {\n${gen(def.valueType as z.ZodType, x)}}\n`;
      }
      case "union": {
        const disc = def.discriminator as string | undefined;
        if (!disc) {
          const options = (def.options as z.ZodType[]).map((o) => `${K(compileValid(o))}(${v})`);
          return `if (!(${options.join(" || ")})) return false;\n`;
        }
        // as the closure's Map by discriminator value: the last option that declares a value wins
        const seen = new Set<unknown>();
        const d = fresh("d");
        let out = `if (${v} === null || typeof ${v} !== "object") return false;\nconst ${d} = ${v}[${JSON.stringify(disc)}];\n`;
        const arms: string[] = [];
        for (const o of [...(def.options as z.ZodType[])].reverse()) {
          const values = (defOf((o as unknown as { shape: Record<string, z.ZodType> }).shape[disc]).values as unknown[]).filter((x) => !seen.has(x));
          values.forEach((x) => seen.add(x));
          if (values.length) arms.push(`if (${values.map((x) => `${d} === ${K(x)}`).join(" || ")}) {\n${gen(o, v)}}`);
        }
        return `${out}${arms.join(" else ")} else return false;\n`;
      }
      default:
        return closure(s, v);
    }
  };
  const closure = (s: z.ZodType, v: string): string => `if (${K(compile(s))}(${v}, []) !== null) return false;\n`;
  const body = `return (v) => {\n${gen(schema, "v")}return true;\n};`;
  return new Function("K", body)(consts) as (value: unknown) => boolean;
}

const issue = (path: (string | number)[], message: string): CheckIssue => ({ path: [...path], message });
const describe = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" && !Number.isFinite(v) ? String(v) : typeof v);

function compile(schema: z.ZodType): Node {
  const def = defOf(schema);
  switch (def.type) {
    case "string":
      return stringNode(def);
    case "number":
      return numberNode(def);
    case "boolean":
      return (v, p) => (typeof v === "boolean" ? null : issue(p, `expected a boolean, got ${describe(v)}`));
    case "literal": {
      const values = def.values as unknown[];
      return (v, p) => (values.includes(v) ? null : issue(p, `expected ${values.map((x) => JSON.stringify(x)).join(" or ")}, got ${JSON.stringify(v) ?? describe(v)}`));
    }
    case "enum": {
      const values = new Set(Object.values(def.entries as Record<string, unknown>));
      return (v, p) => (values.has(v) ? null : issue(p, `expected one of ${[...values].join(", ")}, got ${truncate(JSON.stringify(v) ?? describe(v))}`));
    }
    case "nullable": {
      const inner = compile(def.innerType as z.ZodType);
      return (v, p) => (v === null ? null : inner(v, p));
    }
    case "optional": {
      const inner = compile(def.innerType as z.ZodType);
      return (v, p) => (v === undefined ? null : inner(v, p));
    }
    case "array":
      return arrayNode(compile(def.element as z.ZodType));
    case "tuple":
      return tupleNode((def.items as z.ZodType[]).map(compile), def.rest as z.ZodType | null);
    case "object":
      return objectNode(def.shape as Record<string, z.ZodType>);
    case "record":
      return recordNode(compile(def.valueType as z.ZodType));
    case "union":
      return unionNode(schema, def);
    default:
      return (v, p) => {
        const r = schema.safeParse(v);
        if (r.success) return null;
        const i = r.error.issues[0];
        return issue([...p, ...(i.path as (string | number)[])], i.message);
      };
  }
}

function stringNode(def: Def): Node {
  const patterns: RegExp[] = [];
  let max = Infinity;
  let min = 0;
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === "string_format" && d.format === "regex") patterns.push(d.pattern as RegExp);
    else if (d.check === "max_length") max = d.maximum as number;
    else if (d.check === "min_length") min = d.minimum as number;
    else throw new Error(`fast-check: unsupported string check ${String(d.check)}`);
  }
  return (v, p) => {
    if (typeof v !== "string") return issue(p, `expected a string, got ${describe(v)}`);
    if (v.length > max) return issue(p, `longer than ${max} characters (${v.length})`);
    if (v.length < min) return issue(p, min === 1 ? "must not be empty" : `shorter than ${min} characters`);
    for (const re of patterns) if (!re.test(v)) return issue(p, `expected digits only (an integer as a string), got ${truncate(JSON.stringify(v))}`);
    return null;
  };
}

function numberNode(def: Def): Node {
  let int = false;
  let lo = -Infinity;
  let loIncl = true;
  let hi = Infinity;
  let hiIncl = true;
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === "number_format" && d.format === "safeint") int = true;
    else if (d.check === "greater_than") {
      lo = d.value as number;
      loIncl = d.inclusive as boolean;
    } else if (d.check === "less_than") {
      hi = d.value as number;
      hiIncl = d.inclusive as boolean;
    } else throw new Error(`fast-check: unsupported number check ${String(d.check)}`);
  }
  return (v, p) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return issue(p, `expected a number, got ${typeof v === "string" ? truncate(JSON.stringify(v)) : describe(v)}`);
    if (int && !Number.isSafeInteger(v)) return issue(p, Number.isInteger(v) ? `integer beyond 2^53 (${v})` : `expected an integer, got ${v}`);
    if (loIncl ? v < lo : v <= lo) return issue(p, lo === 0 && loIncl ? `must not be negative, got ${v}` : `must be ${loIncl ? ">=" : ">"} ${lo}, got ${v}`);
    if (hiIncl ? v > hi : v >= hi) return issue(p, `must be ${hiIncl ? "<=" : "<"} ${hi}, got ${v}`);
    return null;
  };
}

function arrayNode(el: Node): Node {
  return (v, p) => {
    if (!Array.isArray(v)) return issue(p, `expected an array, got ${describe(v)}`);
    for (let i = 0; i < v.length; i++) {
      const r = el(v[i], p);
      if (r) return { path: [...p, i, ...r.path.slice(p.length)], message: r.message };
    }
    return null;
  };
}

function tupleNode(items: Node[], rest: z.ZodType | null): Node {
  if (rest) throw new Error("fast-check: tuples with a rest element are not supported");
  const n = items.length;
  return (v, p) => {
    if (!Array.isArray(v)) return issue(p, `expected an array of ${n}, got ${describe(v)}`);
    if (v.length !== n) return issue(p, `expected ${n} items, got ${v.length}`);
    for (let i = 0; i < n; i++) {
      const r = items[i](v[i], p);
      if (r) return { path: [...p, i, ...r.path.slice(p.length)], message: r.message };
    }
    return null;
  };
}

function objectNode(shape: Record<string, z.ZodType>): Node {
  // indexed loops over parallel arrays: this runs for every record of a trace
  const keys = Object.keys(shape);
  const checks = keys.map((k) => compile(shape[k]));
  const optional = keys.map((k) => defOf(shape[k]).type === "optional");
  const n = keys.length;
  return (v, p) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return issue(p, `expected an object, got ${describe(v)}`);
    const o = v as Record<string, unknown>;
    for (let i = 0; i < n; i++) {
      const x = o[keys[i]];
      if (x === undefined && !optional[i]) return issue([...p, keys[i]], "missing");
      const r = checks[i](x, p);
      if (r) return { path: [...p, keys[i], ...r.path.slice(p.length)], message: r.message };
    }
    return null;
  };
}

function recordNode(value: Node): Node {
  return (v, p) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return issue(p, `expected an object, got ${describe(v)}`);
    for (const [k, x] of Object.entries(v)) {
      const r = value(x, p);
      if (r) return { path: [...p, k, ...r.path.slice(p.length)], message: r.message };
    }
    return null;
  };
}

/** A discriminated union dispatches on its discriminator; a plain union tries each option. */
function unionNode(schema: z.ZodType, def: Def): Node {
  const options = (def.options as z.ZodType[]).map((o) => [o, compile(o)] as const);
  const disc = def.discriminator as string | undefined;
  if (disc) {
    const byValue = new Map<unknown, Node>();
    for (const [o, n] of options) for (const val of defOf((o as unknown as { shape: Record<string, z.ZodType> }).shape[disc]).values as unknown[]) byValue.set(val, n);
    return (v, p) => {
      const key = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[disc] : undefined;
      const n = byValue.get(key);
      return n ? n(v, p) : issue([...p, disc], `unknown ${disc} ${truncate(JSON.stringify(key) ?? "undefined")}`);
    };
  }
  return (v, p) => {
    let first: CheckIssue | null = null;
    for (const [, n] of options) {
      const r = n(v, p);
      if (!r) return null;
      first ??= r;
    }
    void schema;
    return first;
  };
}

const truncate = (s: string): string => (s.length > 60 ? `${s.slice(0, 57)}…` : s);
