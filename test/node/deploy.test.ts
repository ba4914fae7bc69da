// What a plain `wrangler deploy` (no --env) would ship, read from wrangler's own dry run: no
// development login, no secret and no development marker, even with the `.dev.vars` that
// `npm run dev` writes sitting beside wrangler.toml.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDevVars } from "../../scripts/dev-vars.ts";

const ROOT = join(import.meta.dirname, "..", "..");

describe("a plain wrangler deploy", () => {
  const tree = mkdtempSync(join(tmpdir(), "edge-chat-deploy-"));
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it("ships no DEV_LOGIN, JWT_SECRET or ENVIRONMENT, while .dev.vars holds them for wrangler dev", () => {
    for (const entry of ["src", "public", "migrations", "wrangler.toml", "package.json", "tsconfig.json"]) {
      cpSync(join(ROOT, entry), join(tree, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"), "dir");
    ensureDevVars(tree);
    expect(readFileSync(join(tree, ".dev.vars"), "utf8")).toMatch(/^DEV_LOGIN=true$/m);

    const dry = spawnSync(process.execPath, [join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", join(tree, "out")], {
      cwd: tree,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      encoding: "utf8",
    });
    const output = `${dry.stdout}\n${dry.stderr}`;
    expect(dry.status, output).toBe(0);
    expect(output).toMatch(/env\.TOKEN_TTL_SECONDS/); // the bindings table was printed
    expect(output).not.toMatch(/DEV_LOGIN|JWT_SECRET|ENVIRONMENT/);
  });
});
