import { TRACE_SCHEMA_VERSION } from "../schema/raw.js";

/**
 * Codes of the reader, and the wording of the errors it throws (InputError). Its warnings
 * are findings (data) and are worded with every other finding in src/report/findings-text.ts.
 */
export const PARSE_CODES = {
  notFound: "RAW_NOT_FOUND",
  unreadable: "RAW_UNREADABLE",
  noTraces: "RAW_NO_TRACES",
  badGzip: "RAW_BAD_GZIP",
  missingHeader: "RAW_MISSING_HEADER",
  badHeader: "RAW_BAD_HEADER",
  duplicateHeader: "RAW_DUPLICATE_HEADER",
  unsupportedSchema: "RAW_UNSUPPORTED_SCHEMA",
  malformedLine: "RAW_MALFORMED_LINE",
  notARecord: "RAW_NOT_A_RECORD",
  invalidRecord: "RAW_INVALID_RECORD",
  lineTooLong: "RAW_LINE_TOO_LONG",
  truncatedTail: "RAW_TRUNCATED_TAIL",
  unknownType: "RAW_UNKNOWN_TYPE",
  skippedLines: "RAW_SKIPPED_LINES",
  unknownHandle: "RAW_UNKNOWN_HANDLE",
  badDelta: "RAW_BAD_DELTA",
  repeatedRank: "RAW_DUPLICATE_RANK",
} as const;

export const msg = {
  notFound: () => "no such file or directory",
  unreadable: (why: string) => `cannot read it: ${why}`,
  noTraces: () => "directory holds no *.jsonl or *.jsonl.gz trace files",
  badGzip: (why: string) => `gzip data is corrupt: ${why}`,
  truncatedHeader: () => "the file ends inside its first line: the trace was cut off before its header was complete",
  invalidRecord: (type: string, what: string) =>
    `invalid '${type}' record: ${what} (run 'vsched validate' on the trace for every problem)`,
  emptyFile: () => "file holds no records: a raw trace starts with a header record",
  missingHeader: (type: string) =>
    `first record is a '${type}' record, not a header: each trace file must start with the header its emitter writes (is this the start of the file?)`,
  badReference: (type: string, path: string, why: string) => `'${type}' record: ${path}: ${why}; use --lenient to skip such records`,
  badHeader: (what: string) => `invalid header record: ${what}`,
  duplicateHeader: () => "a second header record inside one file (two scheduler processes writing to one file?); use --lenient to skip it",
  unsupportedSchema: (theirs: string, major: number) =>
    `trace schema ${theirs} is not supported: this vsched reads schema ${major}.x (written by emitter schema ${TRACE_SCHEMA_VERSION}); ${
      Number(theirs.split(".")[0]) > major ? "upgrade vsched to read it" : "re-record it with a current emitter"
    }`,
  malformedLine: (column: number | null) => `malformed line: not valid JSON${column !== null ? ` (at column ${column})` : ""}; use --lenient to skip such lines`,
  notARecord: () => "line is JSON but not a trace record (an object with a string 'type'); use --lenient to skip such lines",
  repeatedRank: (rank: number, other: string) =>
    `dp_rank ${rank} again (${other} has it too): one trace per scheduler process; the same trace given twice (.jsonl and .jsonl.gz?) or two runs in one directory: convert them separately`,
  lineTooLong: (limit: number) => `line is longer than ${limit} bytes: not a JSONL trace`,
};
