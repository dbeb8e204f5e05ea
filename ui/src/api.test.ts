import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { libraryStats, SegueError } from "./api";

afterEach(() => clearMocks());

describe("api", () => {
  it("returns the command's value", async () => {
    mockIPC((cmd) => {
      if (cmd === "library_stats") {
        return { users: 1, listens: 3, tracks: 2, sessions_formed: 1, sessions_kept: 0, mean_session_length: 0,
          first_listen: 1, last_listen: 2, rules: { gap_secs: 7200, min_len: 5 } };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const stats = await libraryStats();
    expect(stats.listens).toBe(3);
  });

  it("turns {code, message} rejections into SegueError", async () => {
    mockIPC(() => {
      throw { code: "store", message: "listening store error: disk full" };
    });
    const error = await libraryStats().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SegueError);
    expect((error as SegueError).code).toBe("store");
    expect((error as SegueError).message).toContain("disk full");
  });
});
