// The ceiling probe's server: bench/probe (the smallest Durable Object chat room) under
// `wrangler dev`, started by the same launcher as the product (scripts/dev-server.ts) — minus
// the D1 migrations and development variables it does not have.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { launchWranglerDev, type DevServer } from "../../scripts/dev-server.ts";
import { findRuntime, type RuntimeProcesses } from "./proc.ts";
import { keepsLocalObservability, stateParent, track } from "./server.ts";
import { PROJECT_ROOT } from "./snapshot.ts";
import { log } from "./util.ts";

export const PROBE_ROOT = join(PROJECT_ROOT, "bench", "probe");

export interface ProbeServer extends DevServer {
  /** the probe's directory (for the profiler's source map) */
  root: string;
  processes: RuntimeProcesses;
}

/** Starts the probe and waits (bounded) for /health; stopped by stop() or stopAllServers(). */
export async function startProbeServer(verbose = false, timeoutSeconds = 90): Promise<ProbeServer> {
  const started = performance.now();
  const dev = await launchWranglerDev({ cwd: PROBE_ROOT, config: join(PROBE_ROOT, "wrangler.toml"), persist: mkdtempSync(join(stateParent(), "edge-chat-probe-")), verbose, timeoutSeconds, localObservability: keepsLocalObservability() });
  const server = track({ ...dev, root: PROBE_ROOT, processes: findRuntime(dev.pid, dev.port) });
  log(`probe ${server.url} up in ${((performance.now() - started) / 1000).toFixed(1)} s (runtime workerd pid ${server.processes.runtime}, proxy workerd pid ${server.processes.proxy})`);
  return server;
}
