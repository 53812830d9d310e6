import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { csvFileName, MANIFEST_FILE } from "../logs/layout.js";
import { parseJsonText } from "../parse/json-file.js";
import { Manifest } from "../schema/manifest.js";
import { OUTPUT_SCHEMA_VERSION, TABLE_NAMES, type TableName } from "../schema/tables.js";
import type { Findings } from "./collector.js";

export interface ManifestFacts {
  schemaVersion: string;
  /** the schema is a newer minor than this vsched's: appended columns are tolerated */
  newerMinor: boolean;
  /** false when the schema major is unsupported: nothing else can be checked against it */
  supported: boolean;
  tables: Map<TableName, { file: string; rows: number; columns: string[] | null }>;
  /** per_iteration_requests holds every scheduled request of every iteration */
  iterationRequestsComplete: boolean;
  /** text cells were written with convert --spreadsheet-safe */
  spreadsheetSafe: boolean;
}

const [OUR_MAJOR, OUR_MINOR] = OUTPUT_SCHEMA_VERSION.split(".").map(Number);

/** Reads and checks manifest.json; reports findings and returns what later checks need (null when unusable). */
export async function readManifest(dir: string, display: string, findings: Findings): Promise<ManifestFacts | null> {
  const file = join(display, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), "utf8");
  } catch {
    findings.add("MANIFEST_MISSING", "error", file, undefined, {});
    return null;
  }
  let json: unknown;
  try {
    json = parseJsonText(text);
  } catch (e) {
    findings.add("MANIFEST_INVALID", "error", file, undefined, { reason: `not JSON: ${(e as Error).message}` });
    return null;
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    findings.add("MANIFEST_INVALID", "error", file, undefined, { reason: `${i.path.join(".") || "(top level)"}: ${i.message}` });
    return null;
  }
  const m = parsed.data;
  const [major, minor] = m.output_schema_version.split(".").map(Number);
  const supported = major === OUR_MAJOR;
  if (!supported) {
    findings.add("MANIFEST_SCHEMA_MISMATCH", "error", file, undefined, { found: m.output_schema_version, supported: OUTPUT_SCHEMA_VERSION, supported_major: OUR_MAJOR });
  } else if (minor > OUR_MINOR) {
    findings.add("MANIFEST_SCHEMA_NEWER", "warning", file, undefined, { found: m.output_schema_version, supported: OUTPUT_SCHEMA_VERSION });
  }
  const tables: ManifestFacts["tables"] = new Map();
  for (const t of m.tables) {
    if (!(TABLE_NAMES as string[]).includes(t.name)) continue;
    tables.set(t.name as TableName, {
      file: t.file ?? csvFileName(t.name as TableName),
      rows: t.rows,
      columns: t.columns.map((c) => c.name),
    });
  }
  const mode = m.options.iteration_requests;
  const every = m.options.iteration_requests_every;
  return {
    schemaVersion: m.output_schema_version,
    newerMinor: supported && minor > OUR_MINOR,
    supported,
    tables,
    iterationRequestsComplete: (mode === "all" || mode === "running") && every === 1,
    spreadsheetSafe: m.options.spreadsheet_safe === true,
  };
}
