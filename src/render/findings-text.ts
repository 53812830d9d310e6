import type { Finding } from "../core/finding.js";

/**
 * All finding wording, for every code in vsched (validate, the trace reader, the engine).
 * Findings stay data; tests assert codes, never prose. A code without wording here still
 * prints, through the fallback, with its facts. Codes never change meaning once released.
 */
type Args = Finding["args"];
type Wording = (a: Args) => string;

const v = (x: unknown): string => (x === null || x === undefined ? "(empty)" : String(x));
const ms = (ns: unknown): string => (typeof ns === "number" ? `${(ns / 1e6).toFixed(3)} ms` : v(ns));
const plural = (n: unknown, word: string): string => `${v(n)} ${word}${n === 1 ? "" : "s"}`;
/** " (lifetime N)" for a reused request id (request_instance > 0); nothing for the first lifetime */
const lifetime = (a: Record<string, unknown>): string => (typeof a.request_instance === "number" && a.request_instance > 0 ? ` (lifetime ${a.request_instance})` : "");

/** Codes `vsched validate` reports for a logs directory. */
export const LOGS_CODES = {
  CSV_FORMULA_CELL: (a) => `${v(a.column)} holds ${v(a.value)}: a spreadsheet would run it as a formula (convert --spreadsheet-safe neutralises such cells)`,
  MANIFEST_MISSING: (a) => `manifest.json is missing: ${v(a.reason ?? "a logs directory written by vsched convert has one")}`,
  MANIFEST_INVALID: (a) => `manifest.json cannot be read: ${v(a.reason)}`,
  MANIFEST_SCHEMA_MISMATCH: (a) => `schema version ${v(a.found)} is not supported: this vsched reads ${v(a.supported_major)}.x (re-convert the trace with this vsched)`,
  MANIFEST_SCHEMA_NEWER: (a) => `schema version ${v(a.found)} is newer than ${v(a.supported)}: columns appended since are not checked`,
  MANIFEST_ROW_COUNT_MISMATCH: (a) => `${v(a.table)} has ${v(a.actual)} rows but manifest.json says ${v(a.manifest)}`,
  MANIFEST_COLUMNS_MISMATCH: (a) => `manifest.json lists column ${v(a.column)} of ${v(a.table)} at position ${v(a.position)}, expected ${v(a.expected)}`,
  CSV_FILE_MISSING: (a) => `${v(a.table)}.csv is missing`,
  CSV_EMPTY: () => "file is empty: not even a header row",
  CSV_COLUMN_MISSING: (a) => `column ${v(a.column)} (position ${v(a.position)}) is missing`,
  CSV_COLUMN_UNEXPECTED: (a) => `column ${v(a.column)} at position ${v(a.position)} is not part of schema ${v(a.schema)}`,
  CSV_COLUMN_ORDER: (a) => `column ${v(a.column)} is at position ${v(a.position)}, expected position ${v(a.expected_position)}`,
  CSV_COLUMN_DUPLICATE: (a) => `column ${v(a.column)} appears again at position ${v(a.position)}`,
  CSV_FIELD_COUNT: (a) => `row has ${plural(a.actual, "field")}, the header has ${v(a.expected)}`,
  CSV_MALFORMED: (a) => `malformed CSV: ${v(a.reason)}`,
  CSV_ROW_INVALID: (a) => `${v(a.column)} = ${JSON.stringify(a.value ?? null)}: ${v(a.reason)}`,
  CSV_TRUNCATED: (a) =>
    a.expected !== undefined && a.expected !== null
      ? `file is cut off: ${plural(a.rows, "row")} of the ${v(a.expected)} manifest.json records${a.unterminated ? ", last line unterminated" : ""}`
      : `file is cut off: the last line has no newline (after ${plural(a.rows, "row")})`,
  JOIN_UNKNOWN_REQUEST: (a) => `request ${v(a.request_id)}${lifetime(a)} is not in per_request.csv`,
  DUPLICATE_REQUEST: (a) => `request ${v(a.request_id)}${lifetime(a)} appears again (first at line ${v(a.first_line)})`,
  REQUEST_LIFETIMES_OVERLAP: (a) =>
    `request ${v(a.request_id)}${lifetime(a)} arrived at ${v(a.arrival_time)} while another lifetime of the same id (arrived ${v(a.other_arrival_time)}, ${a.other_completion_time === null ? "never finished" : `finished ${v(a.other_completion_time)}`}) was live`,
  NEGATIVE_DURATION: (a) => `${v(a.column)} is negative (${v(a.value)} ns)${a.request_id ? ` for request ${a.request_id}` : ""}${a.iteration_id !== undefined && a.iteration_id !== null ? ` in iteration ${a.iteration_id}` : ""}`,
  LATENCY_SUM_MISMATCH: (a) =>
    `waiting_time + execution_time = ${v(a.sum)} ns, but e2e_latency = ${v(a.e2e_latency)} ns for request ${v(a.request_id)}`,
  E2E_MISMATCH: (a) => `completion_time - arrival_time = ${v(a.expected)} ns, but e2e_latency = ${v(a.e2e_latency)} ns for request ${v(a.request_id)}`,
  WAIT_SUM_MISMATCH: (a) => `wait_<cause>_ns columns sum to ${v(a.sum)} ns, but waiting_time = ${v(a.waiting_time)} ns for request ${v(a.request_id)}`,
  KV_USED_EXCEEDS_TOTAL: (a) => `kv_cache_used ${v(a.used)} exceeds kv_cache_total ${v(a.total)} in iteration ${v(a.iteration_id)}`,
  TOKEN_SUM_MISMATCH: (a) => `prefill_tokens + decode_tokens = ${v(a.sum)}, but total_tokens = ${v(a.total_tokens)} in iteration ${v(a.iteration_id)}`,
  ITERATION_ORDER: (a) => `iteration_id ${v(a.iteration_id)} does not increase (previous ${v(a.previous)}, dp_rank ${v(a.dp_rank)})`,
  EVENT_TIME_ORDER: (a) => `timestamp ${v(a.timestamp)} is earlier than the previous event's ${v(a.previous)} (dp_rank ${v(a.dp_rank)})`,
  BATCH_SIZE_MISMATCH: (a) =>
    `batch_size ${v(a.batch_size)} of iteration ${v(a.iteration_id)} (dp_rank ${v(a.dp_rank)}), but per_iteration_requests.csv has ${plural(a.scheduled_rows, "row")} with scheduled_tokens > 0`,
  FINDINGS_CAPPED: (a) => `${plural(a.more, "more finding")} ${v(a.of)} not shown`,
} satisfies Record<string, Wording>;

/** Codes `vsched validate` reports for raw trace files (some shared with the reader). */
export const RAW_CODES = {
  RAW_MALFORMED_LINE: (a) => (a.reason !== undefined ? v(a.reason) : `malformed line: not valid JSON${a.column != null ? ` (at column ${v(a.column)})` : ""}`),
  RAW_NOT_A_RECORD: (a) => a.reason !== undefined ? v(a.reason) : "line is JSON but not a trace record (an object with a string 'type')",
  RAW_INVALID_RECORD: (a) => `invalid ${v(a.type)} record: ${v(a.path) === "" ? "" : `${v(a.path)}: `}${v(a.reason)}`,
  RAW_UNKNOWN_HANDLE: (a) => `${v(a.type)} record: ${v(a.path)}: ${v(a.reason)}`,
  RAW_BAD_DELTA: (a) => `${v(a.type)} record: ${v(a.path)}: ${v(a.reason)}`,
  RAW_MISSING_HEADER: (a) => a.reason !== undefined ? v(a.reason) : `first record is a '${v(a.type)}' record, not a header: each trace file must start with its header`,
  RAW_DUPLICATE_HEADER: () => "a second header record inside one file (two scheduler processes writing to one file?)",
  RAW_UNSUPPORTED_SCHEMA: (a) => a.reason !== undefined ? v(a.reason) : `trace schema ${v(a.found)} is not supported: this vsched reads schema ${v(a.supported_major)}.x`,
  RAW_UNKNOWN_TYPE: (a) =>
    `skipped ${plural(a.count, "record")} of unknown type (${v(a.types)}): written by a newer emitter${a.schema_version ? ` (schema ${a.schema_version})` : ""}; upgrade vsched to use them`,
  RAW_TIME_ORDER: (a) => `${v(a.field)} = ${v(a.t)} ns goes back in time (previous ${v(a.previous)} ns, line ${v(a.previous_line)})`,
  RAW_TIME_OUTSIDE_RECORD: (a) => `${v(a.field)} = ${v(a.t)} ns lies outside its record's ${v(a.t_start)}..${v(a.t_end)} ns`,
  RAW_STEP_ORDER: (a) => `step ${v(a.step)} does not increase (previous step ${v(a.previous)})`,
  RAW_END_MISSING: () => "no end record: the trace was not closed (process killed?) and may lack its last records",
  RAW_END_MISMATCH: (a) => `end record says ${v(a.field)} = ${v(a.end)}, but the file has ${v(a.actual)}`,
  RAW_TRUNCATED_TAIL: (a) =>
    `last line${a.bytes !== undefined ? ` (${v(a.bytes)} bytes)` : ""} has no newline and is not valid JSON: the trace was probably cut off (server killed?); that line is left out`,
} satisfies Record<string, Wording>;

/** Codes of the trace reader and the engine, reported by convert (defined in src/parse and src/engine). */
const OTHER_CODES: Record<string, Wording> = {
  RAW_NOT_FOUND: () => "no such file or directory",
  RAW_UNREADABLE: (a) => `cannot read it: ${v(a.reason ?? a.why)}`,
  RAW_NO_TRACES: () => "directory holds no *.jsonl or *.jsonl.gz trace files",
  RAW_BAD_GZIP: (a) => `gzip data is corrupt: ${v(a.reason ?? a.why)}`,
  RAW_BAD_HEADER: (a) => `invalid header record: ${v(a.reason ?? a.what)}`,
  RAW_LINE_TOO_LONG: (a) => `line is longer than ${v(a.limit)} bytes: not a JSONL trace`,
  RAW_SKIPPED_LINES: (a) => `--lenient: skipped ${plural(a.count, "malformed line")} (first at line ${v(a.first_line)})`,
  OUT_FORMULA_CELLS: (a) => `${plural(a.count, "text cell")} start with = + - @ TAB or CR: a spreadsheet would run them as formulas (pandas reads them exactly); convert with --spreadsheet-safe before opening the CSVs in a spreadsheet`,
  ENGINE_DUPLICATE_ARRIVAL: (a) => `request ${v(a.request_id)} arrived again while still live; the second arrival was ignored`,
  ENGINE_EMITTER_DROPPED: (a) => `the emitter dropped ${plural(a.count, "record")} (buffer cap reached): figures around here are incomplete`,
  ENGINE_EMITTER_ERROR: (a) => `the emitter reported an error in ${v(a.where)}: ${v(a.error)}`,
  ENGINE_ORDER_SET_MISMATCH: (a) =>
    `step ${v(a.step)}: the recorded waiting queue differs from the reconstructed one (unexpected: ${v(a.unexpected) || "none"}; missing: ${v(a.missing) || "none"})`,
  ENGINE_PREDICTIONS_CAPPED: (a) => `request ${v(a.request_id)} has more predictions than predictions.csv keeps per request (4096); later ones were counted, not written`,
  ENGINE_REPEATED: (a) => `${plural(a.more, "more finding")} ${v(a.of)} after the first`,
  ENGINE_RUNNING_COUNT_MISMATCH: (a) => `step ${v(a.step)}: the trace says ${v(a.trace)} running requests, the reconstruction has ${v(a.reconstructed)}`,
  ENGINE_STATE_CONTRADICTION: (a) => `step ${a.field === "preempted" ? "preempts" : "resumes"} request ${v(a.request_id)}, which is ${v(a.state)}${a.field === "preempted" ? ", not running" : ", not preempted"}; the entry was ignored`,
  ENGINE_LOST_RECORD: (a) => `${a.code === "ENGINE_UPDATE_UNKNOWN_STEP" ? `update for step ${v(a.step)}, whose step record` : `${v(a.record)} record refers to request ${v(a.request_id)}, whose arrival`} was among the records the emitter dropped; ignored`,
  ENGINE_SECOND_HEADER: () => "a second header record inside one trace; ignored",
  ENGINE_TOKEN_COUNT_MISMATCH: (a) => `request ${v(a.request_id)} finished with ${v(a.trace)} output tokens per the trace, ${v(a.reconstructed)} reconstructed`,
  ENGINE_ROW_INVALID: (a) => `a ${v(a.table)} row breaks its declaration at ${v(a.column)}: ${v(a.reason)}${Number(a.rows) > 1 ? ` (${v(a.rows)} such rows)` : ""}`,
  ENGINE_UNFINISHED_REQUESTS: (a) => `${plural(a.count, "request")} had not finished when the trace ended (finish_reason unfinished)`,
  ENGINE_UNKNOWN_REQUEST: (a) => `${v(a.record)} record refers to request ${v(a.request_id)}, which never arrived`,
  ENGINE_VLLM_ARRIVAL_NOT_EPOCH: (a) =>
    `request ${v(a.request_id)}: vLLM's arrival_time (${v(a.vllm_arrival_epoch_ns)} ns) is not epoch time (the scheduler's clock says ${v(a.scheduler_epoch_ns)}); vllm_arrival_time_epoch_ns and ttft_from_vllm_arrival are left empty for such requests`,
  ENGINE_UPDATE_UNKNOWN_STEP: (a) => `update for step ${v(a.step)}, which has no step record`,
  TIMELINE_NO_CAUSES: () => "per_iteration_requests does not hold every step's waiting rows (convert --iteration-requests): waits are drawn as plain 'waiting', without causes",
  TIMELINE_REQUESTS_MISSING: (a) => `${plural(a.count, "id")} given with --requests ${a.count === 1 ? "is" : "are"} not in the run`,
  FIT_NO_CONTEXT: (a) =>
    `per_iteration_requests is incomplete (convert --iteration-requests ${v(a.which)} --iteration-requests-every ${v(a.every)}): context-token features are 0 where rows are missing`,
  TIMELINE_ENGINE_ERRORS: (a) =>
    `the trace contradicts itself in ${plural(a.count, "place")} (engine errors): the timeline shows the engine's reading; vsched validate ${v(a.inputs)} lists them`,
  TAIL_NEW_FILE: () => "appeared after watching began (another rank?); followed from its start",
  TAIL_DELETED: () => "deleted while watched; its rows so far stay in the view",
  TAIL_SHRUNK: (a) => `shrank from ${v(a.was)} to ${v(a.now)} bytes (truncated or replaced); no longer followed`,
  TAIL_BAD_LINE: (a) => (a.error !== undefined ? `cannot be read as a trace (${v(a.error)}); no longer followed` : `a line was skipped: ${v(a.detail)}`),
  TAIL_BAD_RECORD: (a) => `cannot be replayed (${v(a.error)}); no longer followed`,
  TAIL_BAD_GZIP: (a) => `not inflatable as gzip (${v(a.error)}); no longer followed`,
  TAIL_INCOMPLETE_LINE: () => "incomplete last line (still being written, or the writer was killed); left out",
  TAIL_UNREADABLE: (a) => `cannot read it (${v(a.error)}); no longer followed`,
  REPORT_ENGINE_ERRORS: (a) =>
    `the trace contradicts itself in ${plural(a.count, "place")} (engine errors: ${v(a.codes)}): the page shows the engine's reading; vsched validate lists them`,
};

const ALL: Record<string, Wording> = { ...OTHER_CODES, ...RAW_CODES, ...LOGS_CODES };

/** Every code `vsched validate` can report (docs/validate.md documents each). */
export const VALIDATE_CODES = [...Object.keys(LOGS_CODES), ...Object.keys(RAW_CODES)] as const;

export const hasWording = (code: string): boolean => Object.hasOwn(ALL, code);

/** One sentence for a finding; unknown codes print their facts. */
export function formatFinding(f: Pick<Finding, "code" | "args">): string {
  const w = ALL[f.code];
  if (w) return w(f.args);
  const facts = Object.entries(f.args)
    .map(([k, x]) => `${k}=${x === null ? "null" : String(x)}`)
    .join(", ");
  return facts ? `${f.code.toLowerCase().replaceAll("_", " ")} (${facts})` : f.code.toLowerCase().replaceAll("_", " ");
}

/** `file:line: severity: sentence [CODE]`, the form editors and terminals link. */
export function formatFindingLine(f: Finding): string {
  const where = f.file ? `${f.file}${f.line !== undefined ? `:${f.line}` : ""}: ` : "";
  return `${where}${f.severity}: ${formatFinding(f)} [${f.code}]`;
}
