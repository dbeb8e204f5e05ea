// Typed wrappers around Segue's Tauri commands. Every command rejects with
// a `{code, message}` object; `SegueError` carries it to the views.

import { Channel, invoke } from "@tauri-apps/api/core";

export interface CommandErrorDto {
  code: string;
  message: string;
}

export class SegueError extends Error {
  readonly code: string;
  constructor(dto: CommandErrorDto) {
    super(dto.message);
    this.code = dto.code;
  }
}

function isCommandError(value: unknown): value is CommandErrorDto {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as CommandErrorDto).code === "string" &&
    typeof (value as CommandErrorDto).message === "string"
  );
}

/** Calls a command, turning its `{code, message}` rejection into a SegueError. */
export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    if (isCommandError(error)) throw new SegueError(error);
    throw new SegueError({ code: "ipc", message: String(error) });
  }
}

export interface SessionRules {
  gap_secs: number;
  min_len: number;
}

export interface LibraryStats {
  users: number;
  listens: number;
  tracks: number;
  sessions_formed: number;
  sessions_kept: number;
  mean_session_length: number;
  first_listen: number | null;
  last_listen: number | null;
  rules: SessionRules;
}

export type ProgressEvent =
  | { kind: "started"; task: string; total: number | null; unit: string }
  | { kind: "advanced"; done: number; total: number | null; listens: number; problems: number }
  | { kind: "note"; message: string }
  | { kind: "finished" };

export interface RunCounts {
  records: number;
  listens_added: number;
  duplicates: number;
  not_listens: number;
  bad_timestamps: number;
  malformed: number;
}

export interface ImportReport {
  source: string;
  format: string;
  run_id: number;
  resumed_at: number;
  counts: RunCounts;
  problems: { location: string; reason: string }[];
}

export type FileOutcome =
  | { status: "imported"; report: ImportReport }
  | { status: "failed"; path: string; error: CommandErrorDto };

export function libraryStats(): Promise<LibraryStats> {
  return call<LibraryStats>("library_stats");
}

export function importFiles(
  paths: string[],
  format: string | null,
  onProgress: (event: ProgressEvent) => void,
): Promise<FileOutcome[]> {
  const channel = new Channel<ProgressEvent>();
  channel.onmessage = onProgress;
  return call<FileOutcome[]>("import_files", { paths, format, onProgress: channel });
}
