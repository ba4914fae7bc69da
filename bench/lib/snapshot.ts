// A frozen copy of the Worker for the whole run. `wrangler dev` rebuilds and restarts the runtime
// whenever a watched file changes, which closes every socket and resets every object: an edit in
// the working tree during a run would corrupt the numbers. So by default the run copies what the
// Worker is built from (src/, migrations/, public/, scripts/, wrangler.toml, package.json,
// tsconfig.json) into a temporary directory once, links node_modules, and starts every server
// from there (`--live` uses the working tree instead).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PROJECT_ROOT = join(import.meta.dirname, "..", "..");

const COPY = ["src", "migrations", "public", "scripts", "wrangler.toml", "package.json", "tsconfig.json", ".dev.vars"];

export interface Snapshot {
  root: string;
  /** git HEAD of the working tree, and whether it had uncommitted changes when copied */
  commit: string;
  dirty: boolean;
  remove(): void;
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: PROJECT_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

export function gitState(): { commit: string; dirty: boolean } {
  const commit = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  const status = git(["status", "--porcelain", "--", "src", "migrations", "wrangler.toml", "public", "scripts"]);
  return { commit, dirty: status.length > 0 };
}

export function takeSnapshot(): Snapshot {
  const root = mkdtempSync(join(tmpdir(), "edge-chat-bench-src-"));
  const state = gitState();
  for (const entry of COPY) {
    const from = join(PROJECT_ROOT, entry);
    if (existsSync(from)) cpSync(from, join(root, entry), { recursive: true });
  }
  symlinkSync(join(PROJECT_ROOT, "node_modules"), join(root, "node_modules"), "dir");
  return { root, ...state, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** The working tree itself (`--live`). */
export function liveTree(): Snapshot {
  return { root: PROJECT_ROOT, ...gitState(), remove: () => undefined };
}
