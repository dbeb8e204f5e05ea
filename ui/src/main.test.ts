import { describe, expect, it } from "vitest";

(window as { __SEGUE_TEST__?: boolean }).__SEGUE_TEST__ = true;
const { renderStats } = await import("./main");

describe("renderStats", () => {
  it("says plainly when the library is empty", () => {
    const target = document.createElement("div");
    renderStats(target, { users: 0, listens: 0, tracks: 0, sessions_formed: 0, sessions_kept: 0,
      mean_session_length: 0, first_listen: null, last_listen: null, rules: { gap_secs: 7200, min_len: 5 } });
    expect(target.textContent).toContain("Your library is empty");
  });

  it("lists the totals", () => {
    const target = document.createElement("div");
    renderStats(target, { users: 1, listens: 16860, tracks: 6919, sessions_formed: 1377, sessions_kept: 818,
      mean_session_length: 19.17, first_listen: 1189448520, last_listen: 1536407564, rules: { gap_secs: 7200, min_len: 5 } });
    expect(target.textContent).toContain("16,860");
    expect(target.textContent).toContain("818 (of 1,377 formed)");
  });
});
