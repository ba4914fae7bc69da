// Starts the Worker the way `npm run dev` does — local D1 migrated, then `wrangler dev` — but on
// a free port with its own state directory, for the Node-side tests and the benchmarks.
// Runs under Node 22 (type stripping), so only erasable TypeScript is used here.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEV_VARS } from "../src/lib/dev-defaults.ts";

export interface DevServer {
  url: string;
  port: number;
  /** Process id of the wrangler process (workerd is its child). */
  pid: number;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** `[vars]` overrides, passed as `--var NAME:value` (over the development values `npm run dev` uses). */
  vars?: Record<string, string | number>;
  /** Seconds to wait for /health. */
  timeoutSeconds?: number;
  /** Print wrangler's output (for debugging). */
  verbose?: boolean;
  /**
   * Keep wrangler's local observability on (default off here): it streams a trace of every
   * invocation — each request, object call, alarm, queue batch, D1 query — to a collector in the
   * same runtime that stores it there, which costs CPU per invocation and grows the runtime's
   * memory for as long as it runs. Deployed Workers trace elsewhere, and only when configured.
   */
  localObservability?: boolean;
  /**
   * The folder the state directory (D1, R2, Durable Objects) is made in; default the OS's temp
   * folder. The benchmarks use a RAM disk: the local runtime keeps each object in its own SQLite
   * files, and on a disk their creation and syncs are the file system's time, not the Worker's.
   */
  stateParent?: string;
}

const ROOT = join(import.meta.dirname, "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
// No metrics, and no fetch of the `Request.cf` object from the internet (its placeholder is used).
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true" };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const persist = mkdtempSync(join(options.stateParent ?? tmpdir(), "edge-chat-"));
  const migrate = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
    cwd: ROOT,
    env: WRANGLER_ENV,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
  return launchWranglerDev({ ...options, cwd: ROOT, persist, vars: { ...DEV_VARS, ...options.vars } });
}

export interface LaunchOptions extends DevServerOptions {
  /** The folder wrangler runs in (its wrangler.toml unless `config` names another). */
  cwd: string;
  config?: string;
  /** The state directory (D1, R2, Durable Objects); removed when the server stops. */
  persist?: string;
}

/**
 * `wrangler dev` of the tree in `cwd` on a free port of 127.0.0.1 with its own state, no
 * inspector port clash and no telemetry, healthy (GET /health) before it returns; stop() ends
 * the whole process group (wrangler and its workerd) and removes the state.
 */
export async function launchWranglerDev(options: LaunchOptions): Promise<DevServer> {
  const persist = options.persist ?? mkdtempSync(join(options.stateParent ?? tmpdir(), "edge-chat-"));
  const port = await freePort();
  const vars = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const config = options.config ? ["--config", options.config] : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [WRANGLER, "dev", ...config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persist, "--inspector-port", "0", "--show-interactive-dev-session=false", ...vars],
    { cwd: options.cwd, env: { ...WRANGLER_ENV, X_LOCAL_OBSERVABILITY: String(options.localObservability ?? false) }, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
    if (options.verbose) process.stderr.write(chunk);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM"); // the whole group: wrangler and its workerd
      } catch {
        // already gone
      }
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            // already gone
          }
          resolve(undefined);
        }, 5_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    }
    rmSync(persist, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutSeconds ?? 60) * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return { url, port, pid: child.pid!, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`wrangler dev did not become healthy on ${url}:\n${output.slice(-4000)}`);
}
