// The ceiling probe's server: bench/probe (the smallest Durable Object chat room) under
// `wrangler dev`, started the way scripts/dev-server.ts starts the product — the same wrangler,
// a free port on 127.0.0.1, its own state directory, no inspector port clash, no telemetry, the
// whole process group stopped at the end — minus the D1 migrations it does not have.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DevServer } from "../../scripts/dev-server.ts";
import { findRuntime, type RuntimeProcesses } from "./proc.ts";
import { track } from "./server.ts";
import { PROJECT_ROOT } from "./snapshot.ts";
import { log } from "./util.ts";

export const PROBE_ROOT = join(PROJECT_ROOT, "bench", "probe");
const WRANGLER = join(PROJECT_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export interface ProbeServer extends DevServer {
  /** the probe's directory (for the profiler's source map) */
  root: string;
  processes: RuntimeProcesses;
}

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

/** Starts the probe and waits (bounded) for /health; stopped by stop() or stopAllServers(). */
export async function startProbeServer(verbose = false, timeoutSeconds = 90): Promise<ProbeServer> {
  const started = performance.now();
  const persist = mkdtempSync(join(tmpdir(), "edge-chat-probe-"));
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [WRANGLER, "dev", "--config", join(PROBE_ROOT, "wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persist, "--inspector-port", "0", "--show-interactive-dev-session=false"],
    { cwd: PROBE_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
    if (verbose) process.stderr.write(chunk);
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
  const server = track({ url, port, pid: child.pid!, stop, root: PROBE_ROOT, processes: { runtime: null, proxy: null } as RuntimeProcesses });

  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) {
        server.processes = findRuntime(server.pid, port);
        log(`probe ${url} up in ${((performance.now() - started) / 1000).toFixed(1)} s (runtime workerd pid ${server.processes.runtime}, proxy workerd pid ${server.processes.proxy})`);
        return server;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await server.stop();
  throw new Error(`the probe's wrangler dev did not become healthy on ${url}:\n${output.slice(-4000)}`);
}
