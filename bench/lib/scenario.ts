// What every scenario shares: its context, and `measured` — a phase with CPU accounting of the
// server's processes and this client, event-loop lag, and (with --profile) a CPU profile.
import { join } from "node:path";
import type { Options } from "./options.ts";
import { CpuMeter, findRuntime, formatCpu, type CpuReport } from "./proc.ts";
import { Profiler, type ProfileSummary } from "./profiler.ts";
import type { Section } from "./report.ts";
import type { BenchServer } from "./server.ts";
import { log, LoopLag } from "./util.ts";

export interface Context {
  opts: Options;
  resultsDir: string;
  stamp: string;
}

export interface Measured<T> {
  result: T;
  cpu: CpuReport;
  loopLag: { mean_ms: number; max_ms: number };
  profile: ProfileSummary | null;
}

function record(section: Section, key: string, label: string, value: unknown): void {
  const bag = (section.data[key] ??= {}) as Record<string, unknown>;
  bag[label] = value;
}

/** Cores of other processes' work during a phase above which the phase is noted as run on a shared machine. */
const SHARED_CORES = 0.25;

/** What a measured phase needs of a server: the product's (BenchServer) or the ceiling probe's. */
export type Measurable = Pick<BenchServer, "pid" | "port" | "root" | "processes">;

export async function measured<T>(ctx: Context, server: Measurable, section: Section, label: string, fn: () => Promise<T>): Promise<Measured<T>> {
  let profiler: Profiler | null = null;
  if (ctx.opts.profile && server.processes.proxy) {
    profiler = await Profiler.attach(server.processes.proxy, server.root).catch(() => null);
    if (!profiler) section.notes.push(`${label}: could not attach the profiler`);
  }
  const cpu = new CpuMeter(server.pid, server.processes);
  const lag = new LoopLag();
  if (profiler) await profiler.start();
  cpu.start();
  lag.start();
  let result: T;
  let cpuReport: CpuReport;
  let loopLag: { mean_ms: number; max_ms: number };
  try {
    result = await fn();
  } catch (err) {
    profiler?.close();
    throw err;
  } finally {
    cpuReport = cpu.stop();
    loopLag = lag.stop();
  }
  if (findRuntime(server.pid, server.port).runtime !== server.processes.runtime) {
    section.notes.push(`${label}: the runtime workerd restarted during this phase (sockets were dropped): its numbers are not valid`);
  }
  let profile: ProfileSummary | null = null;
  if (profiler) {
    const file = join(ctx.resultsDir, `${ctx.stamp}-${section.scenario}-${label.replace(/[^a-z0-9]+/gi, "_")}.cpuprofile`);
    profile = await profiler.stop(file);
    profiler.close();
    record(section, "profiles", label, profile);
    section.tables.push({
      title: `Profile ${section.scenario} ${label}: Worker isolate, top self time (${profile.total_ms} ms sampled; ${file})`,
      headers: ["function", "self ms", "self %"],
      rows: profile.top_self.map((f) => [f.function, f.self_ms, f.self_pct]),
    });
    section.tables.push({
      title: `Profile ${section.scenario} ${label}: top inclusive time`,
      headers: ["function", "total ms", "total %"],
      rows: profile.top_total.slice(0, 20).map((f) => [f.function, f.total_ms, f.total_pct]),
    });
  }
  if (cpuReport.other_cores > SHARED_CORES) {
    section.notes.push(`${label}: other processes kept ${cpuReport.other_cores.toFixed(2)} cores busy during this phase: the machine was shared, so its figures (and ratios to the probe) are not clean`);
  }
  record(section, "cpu", label, cpuReport);
  record(section, "client_loop_lag_ms", label, loopLag);
  log(`${section.scenario} ${label}: CPU cores busy — ${formatCpu(cpuReport)}; client loop lag max ${loopLag.max_ms.toFixed(1)} ms`);
  return { result, cpu: cpuReport, loopLag, profile };
}

/** CPU cores used by the Worker's workerd and by the bench client during a phase. */
export function cpuOf(report: CpuReport, which: "runtime" | "proxy" | "client"): number {
  const label = which === "runtime" ? "workerd (worker + DOs)" : which === "proxy" ? "workerd (wrangler proxy)" : "bench client (this node)";
  return report.processes.find((p) => p.label === label)?.cpu_cores ?? 0;
}

/** Table columns for a phase's CPU: the Worker's workerd, wrangler's proxy workerd, this client, anything else on the machine, iowait. */
export const CPU_HEADERS = ["cpu wkr", "cpu proxy", "cpu client", "cpu other", "iowait"];

export function cpuCells(report: CpuReport): number[] {
  return [cpuOf(report, "runtime"), cpuOf(report, "proxy"), cpuOf(report, "client"), report.other_cores, report.iowait_cores];
}
