// Optional CPU profile of the Worker's isolate (the Worker and its Durable Objects) through the
// runtime's V8 inspector, to show where server time goes. Used with `--profile`; the profiler
// itself costs time, so numbers from a profiled run are not the headline numbers.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { join } from "node:path";
import WebSocket from "ws";
import { withTimeout } from "./util.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  total_ms: number;
  /** Functions by self time, largest first. */
  top_self: { function: string; self_ms: number; self_pct: number }[];
  /** Functions by total (inclusive) time, largest first. */
  top_total: { function: string; total_ms: number; total_pct: number }[];
}

/** Ports the process listens on, from `ss` (iproute2). */
export function listeningPorts(pid: number): number[] {
  try {
    const out = execFileSync("ss", ["-tlnpH"], { encoding: "utf8" });
    return out
      .split("\n")
      .filter((line) => line.includes(`pid=${pid},`))
      .map((line) => Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]))
      .filter((p) => Number.isFinite(p));
  } catch {
    return [];
  }
}

/**
 * The runtime's own inspector takes one session, which wrangler's inspector proxy (in the proxy
 * workerd) holds; DevTools clients connect to that proxy's `/ws`, and so does this.
 */
async function findInspector(pids: number[]): Promise<string | null> {
  for (const port of pids.flatMap(listeningPorts)) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2_000) });
      if (!response.ok) continue;
      const targets = (await response.json()) as { id: string; webSocketDebuggerUrl: string }[];
      const target = targets.find((t) => t.webSocketDebuggerUrl.endsWith("/ws"));
      if (target) return target.webSocketDebuggerUrl;
    } catch {
      // not the inspector
    }
  }
  return null;
}

/** Wrangler's bundle of the Worker for this dev session (newest `.wrangler/tmp/dev-*` of the tree), to map profile frames to src/. */
function loadBundleMap(root: string): SourceMap | null {
  try {
    const tmp = join(root, ".wrangler", "tmp");
    const dirs = readdirSync(tmp)
      .filter((d) => d.startsWith("dev-"))
      .map((d) => join(tmp, d, "index.js.map"))
      .filter((f) => {
        try {
          return statSync(f).isFile();
        } catch {
          return false;
        }
      })
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    return dirs[0] ? new SourceMap(JSON.parse(readFileSync(dirs[0], "utf8"))) : null;
  } catch {
    return null;
  }
}

export class Profiler {
  private nextId = 1;
  private readonly map: SourceMap | null;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly ws: WebSocket;

  private constructor(ws: WebSocket, root: string) {
    this.ws = ws;
    this.map = loadBundleMap(root);
    ws.on("message", (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    });
  }

  static async attach(proxyPid: number, root: string): Promise<Profiler | null> {
    const url = await findInspector([proxyPid]);
    if (!url) return null;
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
    await withTimeout(new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject)), 5_000, "inspector connection");
    const profiler = new Profiler(ws, root);
    return profiler;
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return withTimeout(
      new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.ws.send(JSON.stringify({ id, method, params }));
      }),
      60_000,
      method,
    );
  }

  /** Full garbage collection of the Worker isolate. */
  async collectGarbage(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
  }

  /** V8 heap of the Worker isolate: bytes used and allocated. */
  async heapUsage(): Promise<{ usedSize: number; totalSize: number }> {
    return (await this.call("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number };
  }

  async start(): Promise<void> {
    await this.call("Profiler.enable");
    await this.call("Profiler.setSamplingInterval", { interval: 200 });
    await this.call("Profiler.start");
  }

  /** Stops, writes the .cpuprofile (open it in Chrome DevTools) and summarises it. */
  async stop(file: string): Promise<ProfileSummary> {
    const { profile } = (await this.call("Profiler.stop")) as { profile: CpuProfile };
    writeFileSync(file, JSON.stringify(profile));
    return summarizeProfile(profile, file, this.map);
  }

  close(): void {
    this.ws.close();
  }
}

function nameOf(node: ProfileNode, map: SourceMap | null): string {
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  let where = url ? url.split("/").pop()! + `:${lineNumber + 1}` : "";
  if (map && url === "index.js" && lineNumber >= 0) {
    const entry = map.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number };
    if (entry.originalSource) {
      const source = entry.originalSource;
      const rel = source.includes("node_modules/")
        ? source.slice(source.lastIndexOf("node_modules/") + "node_modules/".length)
        : (/(?:^|\/)((?:src|scripts)\/.*)$/.exec(source)?.[1] ?? source);
      where = `${rel}:${(entry.originalLine ?? 0) + 1}`;
    }
  }
  return `${functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
}

export function summarizeProfile(profile: CpuProfile, file: string, map: SourceMap | null = null, top = 15): ProfileSummary {
  // A sample's delta is the time since the previous sample. When the isolate is not running on
  // its thread (the runtime is busy elsewhere: other isolates such as D1's, socket I/O), no
  // samples are taken and the next sample carries the whole gap; charging that gap to whatever
  // function happened to be sampled next would be wrong, so each sample is charged at most 4×
  // the median interval and the rest goes to "(gap: isolate not sampled)".
  const sortedDeltas = [...profile.timeDeltas].sort((a, b) => a - b);
  const cap = 4 * Math.max(1, sortedDeltas[sortedDeltas.length >> 1] ?? 1);
  const selfUs = new Map<number, number>();
  let gapUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.min(delta, cap));
    gapUs += Math.max(0, delta - cap);
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) + gapUs;

  const selfByName = new Map<string, number>([["(gap: isolate not sampled)", gapUs]]);
  const totalByName = new Map<string, number>([["(gap: isolate not sampled)", gapUs]]);
  for (const [id, us] of selfUs) {
    const own = nameOf(byId.get(id)!, map);
    selfByName.set(own, (selfByName.get(own) ?? 0) + us);
    // Inclusive time: each distinct function on the stack once per sample.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = nameOf(byId.get(cur)!, map);
      if (seen.has(name)) continue;
      seen.add(name);
      totalByName.set(name, (totalByName.get(name) ?? 0) + us);
    }
  }
  const pct = (us: number) => Math.round((1000 * us) / Math.max(1, total)) / 10;
  return {
    file,
    total_ms: Math.round(total / 1000),
    top_self: [...selfByName.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, us]) => ({ function: fn, self_ms: Math.round(us / 1000), self_pct: pct(us) })),
    top_total: [...totalByName.entries()]
      .filter(([fn]) => !fn.startsWith("(root)"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top * 2)
      .map(([fn, us]) => ({ function: fn, total_ms: Math.round(us / 1000), total_pct: pct(us) })),
  };
}
