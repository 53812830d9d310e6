import { TRACE_SCHEMA_VERSION } from "../schema/raw.js";
import type { Finding } from "../engine/types.js";

/**
 * Wording of the reader's findings and errors, in one place. Findings stay data
 * ({code, file, line, args}); these functions turn them into one sentence.
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
  badHeader: (what: string) => `invalid header record: ${what}`,
  duplicateHeader: () => "a second header record inside one file (two scheduler processes writing to one file?); use --lenient to skip it",
  unsupportedSchema: (theirs: string, major: number) =>
    `trace schema ${theirs} is not supported: this vsched reads schema ${major}.x (written by emitter schema ${TRACE_SCHEMA_VERSION}); ${
      Number(theirs.split(".")[0]) > major ? "upgrade vsched to read it" : "re-record it with a current emitter"
    }`,
  malformedLine: (column: number | null) => `malformed line: not valid JSON${column !== null ? ` (at column ${column})` : ""}; use --lenient to skip such lines`,
  notARecord: () => "line is JSON but not a trace record (an object with a string 'type'); use --lenient to skip such lines",
  lineTooLong: (limit: number) => `line is longer than ${limit} bytes: not a JSONL trace`,
};

/** One sentence for a reader warning (stderr and manifest.json). */
export function describeParseFinding(f: Finding): string {
  const a = f.args;
  switch (f.code) {
    case PARSE_CODES.truncatedTail:
      return `last line (${a.bytes} bytes) has no newline and is not valid JSON: the trace was probably cut off (server killed?); dropped it`;
    case PARSE_CODES.unknownType:
      return `skipped ${a.count} record${a.count === 1 ? "" : "s"} of unknown type (${a.types}): written by a newer emitter (schema ${a.schema_version}); upgrade vsched to use them`;
    case PARSE_CODES.skippedLines:
      return `--lenient: skipped ${a.count} malformed line${a.count === 1 ? "" : "s"} (first at line ${a.first_line})`;
    default:
      return `${f.code} ${JSON.stringify(a)}`;
  }
}
