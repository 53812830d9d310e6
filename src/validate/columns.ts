/**
 * Header checks: a CSV's columns against the schema's column list. A dropped column is
 * reported once (not as every later column shifting), and a moved column is found as
 * the columns outside the longest common subsequence of the two orders.
 */
export interface ColumnIssue {
  code: "CSV_COLUMN_MISSING" | "CSV_COLUMN_UNEXPECTED" | "CSV_COLUMN_ORDER" | "CSV_COLUMN_DUPLICATE";
  args: { column: string; position: number; expected_position?: number };
}

export function checkHeader(header: readonly string[], expected: readonly string[], allowTrailingExtras = false): ColumnIssue[] {
  const issues: ColumnIssue[] = [];
  const expIndex = new Map(expected.map((c, i) => [c, i]));
  const seen = new Map<string, number>();
  header.forEach((c, i) => {
    if (seen.has(c)) issues.push({ code: "CSV_COLUMN_DUPLICATE", args: { column: c, position: i + 1 } });
    else seen.set(c, i);
  });
  expected.forEach((c, i) => {
    if (!seen.has(c)) issues.push({ code: "CSV_COLUMN_MISSING", args: { column: c, position: i + 1 } });
  });
  const lastKnown = Math.max(-1, ...header.map((c, i) => (expIndex.has(c) ? i : -1)));
  header.forEach((c, i) => {
    if (seen.get(c) !== i || expIndex.has(c)) return;
    if (allowTrailingExtras && i > lastKnown) return; // columns appended by a newer minor schema
    issues.push({ code: "CSV_COLUMN_UNEXPECTED", args: { column: c, position: i + 1 } });
  });
  // order among the columns both lists have
  const a = header.filter((c, i) => seen.get(c) === i && expIndex.has(c));
  const b = expected.filter((c) => seen.has(c));
  const inLcs = lcsMembers(a, b);
  for (const c of a) {
    if (!inLcs.has(c)) issues.push({ code: "CSV_COLUMN_ORDER", args: { column: c, position: seen.get(c)! + 1, expected_position: expIndex.get(c)! + 1 } });
  }
  return issues;
}

/** members of one longest common subsequence of two lists of distinct strings */
function lcsMembers(a: readonly string[], b: readonly string[]): Set<string> {
  const n = a.length;
  const m = b.length;
  const dp: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = new Set<string>();
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.add(a[i]);
      i++;
      j++;
    } else if (dp[i + 1][j] >= dp[i][j + 1]) i++;
    else j++;
  }
  return out;
}
