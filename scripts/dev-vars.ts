// Writes `.dev.vars` for `wrangler dev` when it is missing or lacks a development value, so the
// local server has its login and secret while wrangler.toml (what `wrangler deploy` ships) has
// neither. Lines the developer added are kept.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEV_VARS } from "../src/lib/dev-defaults.ts";

export function ensureDevVars(root: string): void {
  const path = join(root, ".dev.vars");
  const current = existsSync(path) ? readFileSync(path, "utf8") : "";
  const present = new Set(current.split("\n").map((line) => line.split("=")[0]!.trim()));
  const missing = Object.entries(DEV_VARS).filter(([name]) => !present.has(name));
  if (missing.length === 0) return;
  const header = current ? (current.endsWith("\n") ? "" : "\n") : "# Local development only (wrangler dev); never deployed. Written by `npm run dev`.\n";
  writeFileSync(path, current + header + missing.map(([name, value]) => `${name}=${value}\n`).join(""));
}

if (import.meta.filename === process.argv[1]) ensureDevVars(join(import.meta.dirname, ".."));
