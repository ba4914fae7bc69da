// Every script of examples/ is a smoke test: each plays its kind of app end to end through the
// built SDK against one `wrangler dev` with the settings `npm run dev` has (default limits
// included), and must exit 0. A new example is picked up by being in the folder.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevServer, type DevServer } from "../../scripts/dev-server.ts";

const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");
const scripts = readdirSync(EXAMPLES).filter((name) => name.endsWith(".ts")).sort();

/** Runs one example under this Node (type stripping) and collects what it printed. */
function runExample(script: string, url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(EXAMPLES, script)], { env: { ...process.env, EDGE_CHAT_URL: url }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, output }));
  });
}

describe("examples", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(() => server?.stop());

  it("has one script per guide", () => {
    expect(scripts).toEqual(["book-marketplace.ts", "booking.ts", "friends-social.ts", "jwt-app.ts", "marketplace.ts"]);
  });

  it.each(scripts)("%s plays its app end to end and exits 0", async (script) => {
    const { code, output } = await runExample(script, server.url);
    expect(code, output).toBe(0);
    expect(output).toMatch(/✓ done/);
  });
});
