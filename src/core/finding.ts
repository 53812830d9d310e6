/**
 * A finding is data: a stable code plus the facts; wording lives in
 * src/report/findings-text.ts. Codes never change meaning once released.
 */
export interface Finding {
  code: string;
  severity: "error" | "warning" | "info";
  /** file and 1-based line of the record (or CSV row) it concerns, when known */
  file?: string;
  line?: number;
  args: Record<string, string | number | boolean | null>;
}
