// Pure formatting helpers for the views (unit-tested).

/** "2018-09-08" from UTC seconds; "–" when unknown. */
export function formatDate(secs: number | null): string {
  if (secs === null) return "–";
  return new Date(secs * 1000).toISOString().slice(0, 10);
}

/** 16860 → "16,860". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A one-line summary of an import's counts. */
export function summarizeCounts(c: {
  listens_added: number;
  duplicates: number;
  not_listens: number;
  bad_timestamps: number;
  malformed: number;
}): string {
  const parts = [`${formatCount(c.listens_added)} listens added`];
  if (c.duplicates > 0) parts.push(`${formatCount(c.duplicates)} already present`);
  if (c.not_listens > 0) parts.push(`${formatCount(c.not_listens)} not listens`);
  const problems = c.bad_timestamps + c.malformed;
  if (problems > 0) parts.push(`${formatCount(problems)} problems`);
  return parts.join(", ");
}

/** Progress as a fraction in [0, 1], or null when the total is unknown. */
export function progressFraction(done: number, total: number | null): number | null {
  if (total === null || total <= 0) return null;
  return Math.min(1, Math.max(0, done / total));
}
