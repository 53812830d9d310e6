import { z } from "zod";
import { HeaderRecord } from "./raw.js";

/**
 * manifest.json, the one declaration: convert writes it (src/report/manifest.ts builds a
 * value of this type), and validate, summary and every TableSource read it through it.
 * Objects are loose so that a newer minor's added keys are kept, not rejected.
 */
const Count = z.number().int().nonnegative();

const FindingEntry = z
  .object({
    code: z.string(),
    severity: z.enum(["error", "warning", "info"]),
    file: z.string().nullable(),
    line: z.number().int().nullable(),
    args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    message: z.string().optional(),
  })
  .loose();

const ColumnEntry = z
  .object({ name: z.string(), kind: z.string(), unit: z.string(), nullable: z.boolean(), description: z.string(), values: z.array(z.string()).optional() })
  .loose();

export const ManifestOptions = z
  .object({
    lenient: z.boolean(),
    version_header: z.boolean(),
    iteration_requests: z.enum(["all", "running", "none"]),
    iteration_requests_every: z.number().int().positive(),
    scheduled_events: z.boolean(),
    spreadsheet_safe: z.boolean().optional(),
  })
  .loose();

export const ManifestSourceEntry = z
  .object({
    path: z.string(),
    bytes: Count,
    sha256: z.string(),
    gzip: z.boolean(),
    time_offset_ns: z.number().int(),
    header: HeaderRecord.omit({ type: true }).loose(),
    records: z.record(z.string(), Count),
    unknown_types: z.record(z.string(), Count),
    skipped_lines: z.object({ count: Count, first_lines: z.array(Count) }),
    truncated_tail_line: Count.nullable(),
    engine: z
      .object({ requests: Count, finished: Count, unfinished: Count, iterations: Count, dropped_by_emitter: Count, records: z.record(z.string(), Count) })
      .loose(),
  })
  .loose();

export const Manifest = z
  .object({
    vsched_version: z.string(),
    output_schema_version: z.string().regex(/^\d+\.\d+$/),
    reader_trace_schema_version: z.string(),
    options: ManifestOptions,
    time: z.object({ unit: z.literal("ns"), epoch_zero_ns: z.string().regex(/^-?\d+$/), t0: z.string() }).loose(),
    row_order: z.string(),
    /** present when CSV tables were written */
    csv: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** present when Parquet tables were written (convert --format parquet|both) */
    parquet: z.object({ partition_by: z.string().nullable() }).loose().optional(),
    tables: z.array(
      z
        .object({ name: z.string(), file: z.string().optional(), parquet_files: z.array(z.string()).optional(), rows: Count, columns: z.array(ColumnEntry) })
        .loose(),
    ),
    sources: z.array(ManifestSourceEntry),
    totals: z.record(z.string(), z.unknown()),
    warnings: z.array(FindingEntry),
    findings: z.array(FindingEntry),
    findings_not_listed: Count,
  })
  .loose();
export type Manifest = z.infer<typeof Manifest>;
