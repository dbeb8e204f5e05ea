// Segue's window: library totals and file import. Later screens (history,
// up next, model, player, settings) build on the same `api` module.

import "./style.css";
import { importFiles, libraryStats, type LibraryStats, type ProgressEvent } from "./api";
import { formatCount, formatDate, progressFraction, summarizeCounts } from "./format";

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function renderStats(target: HTMLElement, stats: LibraryStats): void {
  target.replaceChildren();
  if (stats.listens === 0) {
    target.append(element("p", { class: "empty" }, "Your library is empty: import a listening history to begin."));
    return;
  }
  const rows: [string, string][] = [
    ["Listens", formatCount(stats.listens)],
    ["Tracks", formatCount(stats.tracks)],
    ["Users", formatCount(stats.users)],
    ["Sessions", `${formatCount(stats.sessions_kept)} (of ${formatCount(stats.sessions_formed)} formed)`],
    ["Mean session", `${stats.mean_session_length.toFixed(1)} tracks`],
    ["From", formatDate(stats.first_listen)],
    ["To", formatDate(stats.last_listen)],
  ];
  const list = element("dl", { class: "stats", "data-testid": "library-stats" });
  for (const [name, value] of rows) list.append(element("dt", {}, name), element("dd", {}, value));
  target.append(list);
}

async function refresh(target: HTMLElement, status: HTMLElement): Promise<void> {
  try {
    renderStats(target, await libraryStats());
  } catch (error) {
    status.textContent = (error as Error).message;
    status.className = "error";
  }
}

function start(): void {
  const root = document.getElementById("app");
  if (!root) return;
  const stats = element("section", { class: "panel" });
  const status = element("p", { class: "status", role: "status" });
  const bar = element("progress", { max: "1", value: "0", hidden: "" });
  const path = element("input", { type: "text", placeholder: "/path/to/export.csv", "aria-label": "File to import" });
  const button = element("button", { type: "submit" }, "Import");
  const form = element("form", { class: "import" }, path, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const paths = path.value.split("\n").map((p) => p.trim()).filter(Boolean);
    if (paths.length === 0) return;
    button.disabled = true;
    bar.hidden = false;
    status.className = "status";
    const onProgress = (e: ProgressEvent) => {
      if (e.kind === "advanced") {
        const fraction = progressFraction(e.done, e.total);
        if (fraction !== null) bar.value = fraction;
        status.textContent = `${formatCount(e.listens)} listens, ${formatCount(e.problems)} problems`;
      } else if (e.kind === "note") {
        status.textContent = e.message;
      }
    };
    try {
      const outcomes = await importFiles(paths, null, onProgress);
      status.textContent = outcomes
        .map((o) => (o.status === "imported" ? `${o.report.source}: ${summarizeCounts(o.report.counts)}` : `${o.path}: ${o.error.message}`))
        .join("\n");
      if (outcomes.some((o) => o.status === "failed")) status.className = "status error";
    } catch (error) {
      status.textContent = (error as Error).message;
      status.className = "status error";
    } finally {
      button.disabled = false;
      bar.hidden = true;
      await refresh(stats, status);
    }
  });
  root.append(
    element("header", {}, element("h1", {}, "Segue"), element("p", {}, "What to play next, from your own listening.")),
    stats,
    element("section", { class: "panel" }, element("h2", {}, "Import a listening history"), form, bar, status),
  );
  void refresh(stats, status);
}

if (typeof window !== "undefined" && !(window as { __SEGUE_TEST__?: boolean }).__SEGUE_TEST__) {
  start();
}
