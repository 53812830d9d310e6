/**
 * Every code vsched reports, declared once: its severity, where it points, what it means
 * and its facts (args). Findings (`error`, `warning`, `info`) are data in manifest.json
 * and `validate`'s output; `input` codes are thrown as InputError (one stderr line, exit
 * 2). docs/validate.md's tables are generated from this list (`npm run docs:tables`), the
 * wording of each finding is in src/render/findings-text.ts keyed by these names, and
 * test/codes.test.ts fails when a code is raised anywhere in src/ but missing here or in
 * the docs, or raised with another severity.
 */
export type Severity = "error" | "warning" | "info" | "input";
export type CodeSection = "logs" | "raw" | "engine" | "input" | "command";

export interface CodeEntry {
  severity: Severity;
  section: CodeSection;
  where: string;
  meaning: string;
  args: string;
}

export const CODES = {
  MANIFEST_MISSING: { severity: "error", section: "logs", where: "manifest.json", meaning: "no manifest.json", args: "" },
  MANIFEST_INVALID: { severity: "error", section: "logs", where: "manifest.json", meaning: "not JSON, or lacks `output_schema_version` / `tables[].{name,rows}`", args: "`reason`" },
  MANIFEST_SCHEMA_MISMATCH: { severity: "error", section: "logs", where: "manifest.json", meaning: "the output schema's major version is not this vsched's (columns mean other things)", args: "`found`, `supported`, `supported_major`" },
  MANIFEST_SCHEMA_NEWER: { severity: "warning", section: "logs", where: "manifest.json", meaning: "a newer minor version: columns appended since are tolerated, not checked", args: "`found`, `supported`" },
  MANIFEST_ROW_COUNT_MISMATCH: { severity: "error", section: "logs", where: "table", meaning: "the table has more rows than the manifest records (fewer is `CSV_TRUNCATED`)", args: "`table`, `manifest`, `actual`" },
  MANIFEST_COLUMNS_MISMATCH: { severity: "error", section: "logs", where: "table, header line", meaning: "the manifest's column list differs from the file's header (first difference)", args: "`table`, `column`, `position`, `expected`" },
  CSV_FILE_MISSING: { severity: "error", section: "logs", where: "table", meaning: "one of the five tables is absent", args: "`table`" },
  CSV_EMPTY: { severity: "error", section: "logs", where: "table, line 1", meaning: "not even a header row", args: "" },
  CSV_COLUMN_MISSING: { severity: "error", section: "logs", where: "header line", meaning: "a schema column is not in the header (a dropped column is reported once, not as every later column shifting); for Parquet, not among the file's columns (by name)", args: "`column`, `position` (its place in the schema, 1-based), `schema`" },
  CSV_COLUMN_UNEXPECTED: { severity: "error", section: "logs", where: "header line", meaning: "a header column the schema does not have; for Parquet, a column of the file", args: "`column`, `position`, `schema`" },
  CSV_COLUMN_ORDER: { severity: "error", section: "logs", where: "header line", meaning: "a column out of order: the columns outside the longest common subsequence of header and schema order", args: "`column`, `position` (in the file), `expected_position` (in the schema)" },
  CSV_COLUMN_DUPLICATE: { severity: "error", section: "logs", where: "header line", meaning: "a column named twice", args: "`column`, `position`" },
  CSV_FIELD_COUNT: { severity: "error", section: "logs", where: "row", meaning: "the row has a different number of fields than the header", args: "`expected`, `actual`" },
  CSV_MALFORMED: { severity: "error", section: "logs", where: "row", meaning: "broken quoting", args: "`reason`" },
  CSV_ROW_INVALID: { severity: "error", section: "logs", where: "row", meaning: "a value fails its column's schema (type, range, enum; `events.details` must be a JSON object)", args: "`column`, `value` (the text), `reason`" },
  CSV_TRUNCATED: { severity: "error", section: "logs", where: "last line, or file", meaning: "the file is cut off: its last line has no newline, or it has fewer rows than the manifest records. The cut row itself, and joins to rows that were lost, are not reported separately", args: "`rows` (complete rows), `expected`, `unterminated`" },
  DUPLICATE_REQUEST: { severity: "error", section: "logs", where: "per_request row", meaning: "a (`request_id`, `request_instance`) pair appears twice. A request id used again after its request finished is not a duplicate: each lifetime has its own `request_instance` (tables before schema 1.1 have none: 0)", args: "`request_id`, `request_instance`, `first_line`" },
  REQUEST_LIFETIMES_OVERLAP: { severity: "error", section: "logs", where: "per_request row", meaning: "two lifetimes of one request id overlap in time: one arrived before the other finished (or the other never finished), which vLLM does not allow", args: "`request_id`, `request_instance`, `arrival_time`, `other_arrival_time`, `other_completion_time`" },
  JOIN_UNKNOWN_REQUEST: { severity: "error", section: "logs", where: "row", meaning: "a (`request_id`, `request_instance`) in per_iteration_requests, events or state_transitions that is not in per_request", args: "`request_id`, `request_instance`" },
  NEGATIVE_DURATION: { severity: "error", section: "logs", where: "row", meaning: "a duration column is negative: per_request `waiting_time`, `execution_time`, `e2e_latency`, `ttft`, `tpot`, `vllm_*_time`, `vllm_mean_tpot`, `longest_wait`, `wait_<cause>_ns`; per_iteration `duration`, `scheduling_overhead`, `forward_duration`, `update_duration`; per_iteration_requests `time_in_state`", args: "`column`, `value`, `request_id` or `iteration_id`" },
  LATENCY_SUM_MISMATCH: { severity: "error", section: "logs", where: "per_request row", meaning: "a finished request's `waiting_time + execution_time \u2260 e2e_latency`", args: "`request_id`, `sum`, `e2e_latency`" },
  E2E_MISMATCH: { severity: "error", section: "logs", where: "per_request row", meaning: "`completion_time \u2212 arrival_time \u2260 e2e_latency`", args: "`request_id`, `expected`, `e2e_latency`" },
  WAIT_SUM_MISMATCH: { severity: "error", section: "logs", where: "per_request row", meaning: "the `wait_<cause>_ns` columns do not add up to `waiting_time`", args: "`request_id`, `sum`, `waiting_time`" },
  KV_USED_EXCEEDS_TOTAL: { severity: "error", section: "logs", where: "per_iteration row", meaning: "`kv_cache_used > kv_cache_total`", args: "`iteration_id`, `used`, `total`" },
  TOKEN_SUM_MISMATCH: { severity: "error", section: "logs", where: "per_iteration row", meaning: "`prefill_tokens + decode_tokens \u2260 total_tokens`", args: "`iteration_id`, `sum`, `total_tokens`" },
  ITERATION_ORDER: { severity: "error", section: "logs", where: "per_iteration row", meaning: "`iteration_id` does not increase within a `dp_rank`", args: "`iteration_id`, `previous`, `dp_rank`" },
  EVENT_TIME_ORDER: { severity: "error", section: "logs", where: "events row", meaning: "`timestamp` decreases within a `dp_rank`", args: "`timestamp`, `previous`, `dp_rank`" },
  BATCH_SIZE_MISMATCH: { severity: "error", section: "logs", where: "per_iteration row", meaning: "`batch_size` \u2260 the number of per_iteration_requests rows of that iteration with `scheduled_tokens > 0`. Checked for every iteration that has rows; when the manifest says the table is complete (`iteration_requests` `all` or `running`, every iteration), also for iterations without rows. Skipped when per_iteration_requests is missing or cut off", args: "`iteration_id`, `dp_rank`, `batch_size`, `scheduled_rows`" },
  FINDINGS_CAPPED: { severity: "info", section: "logs", where: "file", meaning: "more findings of one code than `--max-per-code`", args: "`of` (the code), `more`" },
  RAW_MALFORMED_LINE: { severity: "error", section: "raw", where: "trace line", meaning: "the line is not JSON", args: "`column` (1-based, when known)" },
  RAW_NOT_A_RECORD: { severity: "error", section: "raw", where: "trace line", meaning: "JSON, but not an object with a string `type`", args: "" },
  RAW_MISSING_HEADER: { severity: "error", section: "raw", where: "trace line", meaning: "the first record is not the header", args: "`type`, or `reason` for a file that cannot start" },
  RAW_DUPLICATE_HEADER: { severity: "error", section: "raw", where: "trace line", meaning: "a second header in one file", args: "" },
  RAW_UNSUPPORTED_SCHEMA: { severity: "error", section: "raw", where: "trace line", meaning: "the header's `schema_version` major is not the one this vsched reads; nothing after it is judged", args: "`reason`" },
  RAW_UNKNOWN_TYPE: { severity: "warning", section: "raw", where: "trace line", meaning: "records of a type this vsched does not know (a newer minor emitter); convert skips them", args: "`count`, `types`, `schema_version`" },
  RAW_STEP_ORDER: { severity: "error", section: "raw", where: "trace line", meaning: "a step record's `step` does not increase", args: "`step`, `previous`" },
  RAW_END_MISMATCH: { severity: "warning", section: "raw", where: "trace line", meaning: "the end record's `steps` differs from the step records in the file (only judged when nothing was dropped and every line was readable)", args: "`field`, `end`, `actual`" },
  RAW_TIME_ORDER: { severity: "error", section: "raw", where: "trace line", meaning: "a record's time is earlier than the record before it, or a step or update ends before it starts (the emitter stamps records in order: the trace was edited or merged)", args: "`field`, `t`, `previous`, `previous_line`" },
  RAW_INVALID_RECORD: { severity: "error", section: "raw", where: "trace line", meaning: "a record of a known type fails its declaration in src/schema/raw.ts (first issue): a wrong type, a missing field, a negative count, a fraction where an integer belongs, an id longer than 1 MiB", args: "`type`, `path` (dotted field path), `reason`" },
  RAW_UNKNOWN_HANDLE: { severity: "error", section: "raw", where: "trace line", meaning: "schema 1.3: a request handle that no arrival record bound, or whose request already finished (the trace was cut, edited or merged)", args: "`type`, `path` (dotted field path), `reason`" },
  RAW_BAD_DELTA: { severity: "error", section: "raw", where: "trace line", meaning: "schema 1.3: a delta list (`sched`, `tokens`) that does not fit the previous record's list, or has none to apply to (the first of its type, or after a skipped line)", args: "`type`, `path` (dotted field path), `reason`" },
  RAW_TRUNCATED_TAIL: { severity: "warning", section: "raw", where: "trace line", meaning: "the last line has no newline and is not valid JSON: the trace was cut off (a killed server); that line is left out and the rest is used", args: "`bytes`" },
  RAW_END_MISSING: { severity: "info", section: "raw", where: "trace file", meaning: "no end record: the emitter was not closed. vLLM SIGKILLs the engine core at shutdown, so a real server's trace always ends this way; the emitter's idle flush keeps what it recorded", args: "" },
  RAW_SKIPPED_LINES: { severity: "warning", section: "raw", where: "trace file", meaning: "convert --lenient skipped malformed or invalid lines (counted in manifest.json); validate lists each instead", args: "`count`, `first_line`" },
  ENGINE_DUPLICATE_ARRIVAL: { severity: "warning", section: "engine", where: "trace line", meaning: "a request arrived again while still live; the second arrival is ignored (an id used again after its request finished is a new lifetime, `request_instance`, not this)", args: "`request_id`" },
  ENGINE_EMITTER_DROPPED: { severity: "warning", section: "engine", where: "trace line", meaning: "the emitter dropped records (its buffer cap was reached): figures around here are incomplete", args: "`count`" },
  ENGINE_EMITTER_ERROR: { severity: "error", section: "engine", where: "trace line", meaning: "the emitter reported an error in one of its hooks and disabled itself; vLLM carried on", args: "`where`, `error`" },
  ENGINE_ORDER_SET_MISMATCH: { severity: "warning", section: "engine", where: "trace line", meaning: "the waiting queue the emitter recorded holds other requests than the reconstructed one", args: "`step`, `unexpected`, `missing`" },
  ENGINE_REPEATED: { severity: "info", section: "engine", where: "trace file", meaning: "more findings of one engine code after the first (each engine code is reported once, then counted)", args: "`of`, `more`" },
  ENGINE_RUNNING_COUNT_MISMATCH: { severity: "warning", section: "engine", where: "trace line", meaning: "the trace's running count differs from the reconstruction's", args: "`step`, `trace`, `reconstructed`" },
  ENGINE_SECOND_HEADER: { severity: "error", section: "engine", where: "trace line", meaning: "a second header inside one trace; ignored", args: "" },
  ENGINE_TOKEN_COUNT_MISMATCH: { severity: "warning", section: "engine", where: "trace line", meaning: "a request finished with another output token count than the updates delivered", args: "`request_id`, `trace`, `reconstructed`" },
  ENGINE_ROW_INVALID: { severity: "error", section: "engine", where: "output row", meaning: "a row the replay produced breaks its table's declaration (a value beyond 2^53 from absurd inputs, say); it is written as computed, and validate names it too", args: "`table`, `column`, `reason`, `rows`" },
  ENGINE_UNFINISHED_REQUESTS: { severity: "info", section: "engine", where: "trace file", meaning: "requests still live when the trace ended (finish_reason unfinished)", args: "`count`" },
  ENGINE_UNKNOWN_REQUEST: { severity: "error", section: "engine", where: "trace line", meaning: "a step, update or finish record names a request that never arrived, or that already finished (tokens after finish, finished twice)", args: "`request_id`, `record`" },
  ENGINE_UPDATE_UNKNOWN_STEP: { severity: "error", section: "engine", where: "trace line", meaning: "an update for a step no step record announced, or a second update for one step", args: "`step`" },
  ENGINE_VLLM_ARRIVAL_NOT_EPOCH: { severity: "warning", section: "engine", where: "trace line", meaning: "vLLM's `Request.arrival_time` is more than one hour from the scheduler's own epoch clock at `add_request()`: not epoch time (offline callers may pass their own; vLLM's tests pass `1.0`). For such requests `vllm_arrival_time_epoch_ns` and `ttft_from_vllm_arrival` are left empty; everything else is on the scheduler's clock and unaffected", args: "`request_id` (the first), `vllm_arrival_epoch_ns`, `scheduler_epoch_ns`" },
  RAW_NOT_FOUND: { severity: "input", section: "input", where: "path", meaning: "no such file or directory", args: "" },
  RAW_UNREADABLE: { severity: "input", section: "input", where: "path", meaning: "the file cannot be read (permissions, a directory where a file belongs, an I/O error)", args: "" },
  RAW_NO_TRACES: { severity: "input", section: "input", where: "directory", meaning: "a directory given as input holds no *.jsonl or *.jsonl.gz trace", args: "" },
  RAW_BAD_GZIP: { severity: "input", section: "input", where: "file", meaning: "a .gz trace whose gzip stream is corrupt", args: "" },
  RAW_BAD_HEADER: { severity: "input", section: "input", where: "trace line 1", meaning: "the header record fails its declaration (validate reports it as an error finding and skips the file)", args: "`reason`" },
  RAW_LINE_TOO_LONG: { severity: "input", section: "input", where: "trace line", meaning: "a line longer than 256 MiB: not a JSONL trace", args: "" },
  OUT_UNWRITABLE: { severity: "input", section: "input", where: "output path", meaning: "the output cannot be written (no space, permissions, a directory where a file belongs, a read-only or pseudo filesystem); the previous output is left untouched and no staging debris remains", args: "" },
  LOGS_DIR_NOT_FOUND: { severity: "input", section: "input", where: "path", meaning: "a logs directory that does not exist", args: "" },
  LOGS_FILE_UNREADABLE: { severity: "input", section: "input", where: "table file", meaning: "a table of a logs directory cannot be read (a directory in its place, permissions)", args: "" },
  PARQUET_UNREADABLE: { severity: "input", section: "input", where: "Parquet file", meaning: "a Parquet table of a logs directory cannot be read (corrupt, truncated, not Parquet)", args: "" },
  PARQUET_TABLE_MISSING: { severity: "input", section: "input", where: "logs directory", meaning: "the manifest lists a Parquet table whose file or partitions are absent", args: "" },
  LOGS_VALUE_INVALID: { severity: "input", section: "input", where: "table row", meaning: "a command reading a logs directory met a cell that is not of its column's type (validate names every such cell as CSV_ROW_INVALID)", args: "" },
  SUMMARY_TABLE_MISSING: { severity: "input", section: "input", where: "logs directory", meaning: "a table the summary needs is absent", args: "" },
  SUMMARY_COLUMN_MISSING: { severity: "input", section: "input", where: "logs directory", meaning: "a column the summary needs is absent (an older schema, or an edited file)", args: "" },
  VALIDATE_MIXED_INPUTS: { severity: "input", section: "input", where: "arguments", meaning: "a logs directory given together with other inputs: validate it on its own", args: "" },
  VALIDATE_NOT_A_TRACE: { severity: "input", section: "input", where: "arguments", meaning: "one file of a logs directory given alone: validate the directory", args: "" },
  TIMELINE_NEGATIVE_TIME: { severity: "input", section: "input", where: "table", meaning: "vsched timeline: a row's time lies before the run's t=0, which a Perfetto timestamp cannot hold", args: "" },
  REQUESTS_FILE_NOT_FOUND: { severity: "input", section: "input", where: "path", meaning: "vsched timeline --requests @FILE: no such file", args: "" },
  OUT_FORMULA_CELLS: { severity: "warning", section: "command", where: "output directory", meaning: "vsched convert wrote text cells (request ids come from clients) that a spreadsheet would run as formulas: they start with = + - @ TAB or CR. pandas and every other reader get them exactly; to open the CSVs in a spreadsheet, convert with `--spreadsheet-safe`, which prefixes such cells with `'` (readers of vsched strip it again)", args: "`count`" },
  CSV_FORMULA_CELL: { severity: "warning", section: "logs", where: "row", meaning: "a text cell a spreadsheet would run as a formula, in a logs directory not written with `--spreadsheet-safe`", args: "`column`, `value`" },
  TIMELINE_NO_CAUSES: { severity: "warning", section: "command", where: "logs directory", meaning: "vsched timeline: per_iteration_requests lacks the waiting rows of some steps (convert --iteration-requests), so waits are drawn as plain `waiting`, without causes", args: "" },
  TIMELINE_REQUESTS_MISSING: { severity: "warning", section: "command", where: "arguments", meaning: "vsched timeline: ids given with --requests that the run does not have", args: "`count`" },
  TIMELINE_ENGINE_ERRORS: { severity: "warning", section: "command", where: "inputs", meaning: "vsched timeline: replaying the trace raised engine errors (convert would exit 1); the timeline shows the engine's reading of it", args: "`count`, `inputs`" },
  FIT_NO_STEPS: { severity: "input", section: "input", where: "inputs", meaning: "vsched fit: too few steps left after the filters (warm-up, idle, incomplete) for any feature set (docs/fit.md)", args: "" },
  FIT_NO_CONTEXT: { severity: "warning", section: "command", where: "logs directory", meaning: "vsched fit: per_iteration_requests lacks the rows of some steps (convert --iteration-requests), so context-token features are 0 there", args: "`which`, `every`" },
  SIM_MODEL_INVALID: { severity: "input", section: "input", where: "--model file", meaning: "vsched simulate / calibrate: not a step-model file from vsched fit --out (not JSON, or a field fails src/schema/fit.ts)", args: "" },
  SIM_NO_PYTHON: { severity: "input", section: "input", where: "--python / $VSCHED_PYTHON", meaning: "vsched simulate: no Python with vLLM; pass --python, set VSCHED_PYTHON, or build the venv with `bash emitter/scripts/vllm_env.sh 0.33.0`", args: "" },
  SIM_NO_HARNESS: { severity: "input", section: "input", where: "installation", meaning: "vsched simulate: the emitter's harness (emitter/src/vsched_emitter/harness) is not next to this vsched", args: "" },
  SIM_HARNESS_FAILED: { severity: "input", section: "input", where: "the harness", meaning: "vsched simulate: the harness exited non-zero; its last stderr line is quoted (e.g. a prompt that needs more KV blocks than a changed num_gpu_blocks)", args: "" },
  SIM_MULTI_RANK: { severity: "input", section: "input", where: "inputs", meaning: "vsched simulate: several trace files (data-parallel ranks); simulate replays one scheduler", args: "" },
  SIM_NO_REQUESTS: { severity: "input", section: "input", where: "inputs", meaning: "vsched simulate: the run has no requests to replay", args: "" },
  REPORT_CHROMIUM_MISSING: { severity: "input", section: "input", where: "environment", meaning: "vsched report --png: no Chromium at `$VSCHED_CHROMIUM` or `/usr/bin/chromium` (`scripts/setup-browser.sh` installs Debian's); checked before any work", args: "" },
  REPORT_PLAYWRIGHT_MISSING: { severity: "input", section: "input", where: "environment", meaning: "vsched report --png drives Chromium with the npm package playwright-core, which is not installed", args: "" },
  REPORT_WRITE_FAILED: { severity: "input", section: "input", where: "path", meaning: "vsched report: the HTML file cannot be written (the OS error code says why); nothing is left behind", args: "" },
  REPORT_ENGINE_ERRORS: { severity: "warning", section: "command", where: "inputs", meaning: "vsched report: replaying the trace raised engine errors (convert would exit 1); the page shows the engine's reading of it", args: "`count`, `codes`" },
  ENGINE_PREDICTIONS_CAPPED: { severity: "warning", section: "engine", where: "trace line", meaning: "a request made more than 4096 length predictions; predictions.csv keeps the first 4096 (the engine holds them until the request finishes, to know the true remaining tokens)", args: "`request_id`" },
  COMPARE_SCHEMA_MISMATCH: { severity: "input", section: "input", where: "run", meaning: "vsched compare: a run's tables are of another output schema major version (columns mean other things)", args: "" },
  COMPARE_TABLE_MISSING: { severity: "input", section: "input", where: "run", meaning: "vsched compare: a run has no per_request or per_iteration table", args: "" },
  COMPARE_COLUMN_MISSING: { severity: "input", section: "input", where: "run", meaning: "vsched compare: a table lacks a column compare needs (an older writer); re-run vsched convert", args: "" },
  WATCH_TARGET_MISSING: { severity: "input", section: "input", where: "path", meaning: "vsched watch: no such trace file or directory (create the directory, or start the server with VLLM_SCHEDULER_LOGGING=1 first)", args: "" },
  TAIL_NEW_FILE: { severity: "info", section: "command", where: "trace file", meaning: "vsched watch: a trace file appeared in the watched directory after watching began (another rank); it is followed from its start", args: "" },
  TAIL_DELETED: { severity: "warning", section: "command", where: "trace file", meaning: "vsched watch: a followed file was deleted; what was read of it stays in the view", args: "" },
  TAIL_SHRUNK: { severity: "warning", section: "command", where: "trace file", meaning: "vsched watch: a followed file became shorter than what was read (truncated or replaced); it is no longer followed", args: "`was`, `now`" },
  TAIL_BAD_LINE: { severity: "warning", section: "command", where: "trace line", meaning: "vsched watch: a line that is not a record of the trace contract was skipped (`detail`: its RAW_ code), or the file is not a trace at all and is no longer followed (`error`)", args: "`detail` or `error`" },
  TAIL_BAD_RECORD: { severity: "warning", section: "command", where: "trace line", meaning: "vsched watch: a record the engine cannot apply (the trace contradicts itself); the file is no longer followed (vsched validate says more)", args: "`error`" },
  TAIL_BAD_GZIP: { severity: "warning", section: "command", where: "trace file", meaning: "vsched watch: a .jsonl.gz whose bytes cannot be inflated; it is no longer followed", args: "`error`" },
  TAIL_INCOMPLETE_LINE: { severity: "warning", section: "command", where: "trace line", meaning: "vsched watch: at exit a followed file ended in the middle of a line (still being written, or the writer was killed); that line is left out", args: "" },
  TAIL_UNREADABLE: { severity: "warning", section: "command", where: "trace file", meaning: "vsched watch: a followed file cannot be read (the OS error code says why); it is no longer followed", args: "`error`" },
  OTLP_INVALID: { severity: "input", section: "input", where: "line", meaning: "an input that starts like OTLP/JSON (`{\"resourceSpans\"`) has a line that is not one JSON ExportTraceServiceRequest", args: "" },
  OTLP_NO_STEPS: { severity: "input", section: "input", where: "OTLP file", meaning: "OTLP/JSON without vLLM's step tracing (step.BATCH_SUMMARY events): request spans alone (upstream llm_request) cannot be replayed into the tables (docs/otlp.md)", args: "" },
  OTLP_SAMPLED: { severity: "input", section: "input", where: "OTLP file", meaning: "OTLP/JSON whose step tracing was sampled (a step, or the request snapshots of a step, missing): record with sample rates 1.0 (docs/otlp.md)", args: "" },
} as const satisfies Record<string, CodeEntry>;

export type Code = keyof typeof CODES;
export const CODE_NAMES = Object.keys(CODES) as Code[];
export const isCode = (s: string): s is Code => Object.hasOwn(CODES, s);
