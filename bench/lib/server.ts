// A fresh local server per scenario (wrangler dev with a migrated temp D1), limits lifted, an
// admin for the cost counters, and the runtime's processes located for memory and CPU.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { DevServer, DevServerOptions } from "../../scripts/dev-server.ts";
import { Api, type User } from "./api.ts";
import { findRuntime, type RuntimeProcesses } from "./proc.ts";
import { listeningPorts } from "./profiler.ts";
import { log } from "./util.ts";

export const ADMIN_EMAIL = "bench-admin@bench.local";
const LIFTED = 10_000_000;

/** Servers not yet stopped, so an interrupt or a watchdog can stop them all. */
const running = new Set<DevServer>();

export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

/** Registers a server so stopAllServers (interrupts, watchdogs, failures) stops it; its stop() unregisters it. */
export function track<T extends DevServer>(server: T): T {
  const stop = server.stop;
  server.stop = async () => {
    running.delete(server);
    await stop();
  };
  running.add(server);
  return server;
}

/** The tree servers are started from (a snapshot by default, see snapshot.ts); set once by run.ts. */
let sourceRoot = join(import.meta.dirname, "..", "..");

export function useSourceRoot(root: string): void {
  sourceRoot = root;
}

/** Whether servers (product and probe) keep wrangler's local observability on; set once by run.ts (see scripts/dev-server.ts). */
let localObservability = false;

export function useLocalObservability(on: boolean): void {
  localObservability = on;
}

export function keepsLocalObservability(): boolean {
  return localObservability;
}

/** Where servers (product and probe) keep their local state; set once by run.ts (see Options.stateDir). */
let stateFolder = tmpdir();

export function useStateParent(folder: string): void {
  stateFolder = folder;
}

export function stateParent(): string {
  return stateFolder;
}

/** scripts/dev-server.ts of the source tree: it builds and runs the Worker of the tree it sits in. */
async function launcher(): Promise<(options: DevServerOptions) => Promise<DevServer>> {
  const module = (await import(pathToFileURL(join(sourceRoot, "scripts", "dev-server.ts")).href)) as { startDevServer: (o: DevServerOptions) => Promise<DevServer> };
  return module.startDevServer;
}

export interface BenchServer extends DevServer {
  /** the project tree this server runs (for the profiler's source map) */
  root: string;
  api: Api;
  admin: User;
  processes: RuntimeProcesses;
}

export async function startBenchServer(extraVars: Record<string, string | number> = {}, verbose = false): Promise<BenchServer> {
  const started = performance.now();
  const startDevServer = await launcher();
  const server = await startDevServer({
    vars: {
      ADMIN_EMAILS: ADMIN_EMAIL,
      RATE_MESSAGES_PER_MIN: LIFTED,
      RATE_TYPING_PER_MIN: LIFTED,
      RATE_PINGS_PER_MIN: LIFTED,
      RATE_UPLOADS_PER_MIN: LIFTED,
      RATE_VOICE_NOTES_PER_MIN: LIFTED,
      RATE_REACTIONS_PER_MIN: LIFTED,
      RATE_CONVERSATIONS_PER_MIN: LIFTED,
      RATE_LOGINS_PER_MIN_PER_IP: LIFTED,
      RATE_CONNECTS_PER_MIN_PER_IP: LIFTED,
      ...extraVars,
    },
    timeoutSeconds: 90,
    verbose,
    localObservability,
    stateParent: stateFolder,
  });
  track(server);
  try {
    const api = new Api(server.url);
    const admin = await api.login(ADMIN_EMAIL);
    const processes = findRuntime(server.pid, server.port);
    log(`server ${server.url} up in ${((performance.now() - started) / 1000).toFixed(1)} s (runtime workerd pid ${processes.runtime}, proxy workerd pid ${processes.proxy})`);
    return { ...server, root: sourceRoot, api, admin, processes };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * The runtime workerd's own entry socket, behind wrangler's proxy: requests sent there skip the
 * proxy hop (for a baseline only; the benchmarks otherwise use the public URL). Found by asking
 * each port the runtime listens on for /health.
 */
export async function directUrl(server: BenchServer): Promise<string | null> {
  if (!server.processes.runtime) return null;
  for (const port of listeningPorts(server.processes.runtime)) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok && (await response.text()).includes('"ok"')) return `http://127.0.0.1:${port}`;
    } catch {
      // not the entry socket
    }
  }
  return null;
}

/** Runs `fn` against a fresh server and always stops it, on failure too. */
export async function withServer<T>(fn: (server: BenchServer) => Promise<T>, verbose = false): Promise<T> {
  const server = await startBenchServer({}, verbose);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}
