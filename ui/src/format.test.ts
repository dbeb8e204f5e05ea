import { describe, expect, it } from "vitest";
import { formatCount, formatDate, progressFraction, summarizeCounts } from "./format";

describe("format", () => {
  it("formats dates from UTC seconds", () => {
    expect(formatDate(1536407564)).toBe("2018-09-08");
    expect(formatDate(null)).toBe("–");
  });

  it("groups thousands", () => {
    expect(formatCount(16860)).toBe("16,860");
  });

  it("summarizes only the counts that happened", () => {
    expect(
      summarizeCounts({ listens_added: 16860, duplicates: 0, not_listens: 0, bad_timestamps: 643, malformed: 0 }),
    ).toBe("16,860 listens added, 643 problems");
  });

  it("clamps progress and knows when it is unknown", () => {
    expect(progressFraction(5, 10)).toBe(0.5);
    expect(progressFraction(15, 10)).toBe(1);
    expect(progressFraction(5, null)).toBeNull();
  });
});
