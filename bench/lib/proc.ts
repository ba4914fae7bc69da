// The local runtime's processes, read from /proc (Linux): which workerd runs the Worker and its
// Durable Objects, which one is wrangler's proxy in front of it, their memory and CPU time.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  comm: string;
  cmdline: string;
  /** user + system CPU seconds so far */
  cpuSeconds: number;
}

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks) return clockTicks;
  try {
    clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    clockTicks = 100;
  }
  return clockTicks;
}

function readStat(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    // Fields after the command: state(3) ppid(4) pgrp(5) … utime(14) stime(15).
    const rest = stat.slice(close + 2).split(" ");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return {
      pid,
      ppid: Number(rest[1]),
      pgrp: Number(rest[2]),
      comm,
      cmdline,
      cpuSeconds: (Number(rest[11]) + Number(rest[12])) / ticksPerSecond(),
    };
  } catch {
    return null; // gone
  }
}

/** A process's user + system CPU seconds so far; NaN when it is gone. */
export function cpuSecondsOf(pid: number): number {
  return readStat(pid)?.cpuSeconds ?? NaN;
}

/** Every live process of the process group (wrangler is started detached, so its pid is the group id). */
export function processGroup(pgid: number): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = readStat(Number(name));
    if (info && info.pgrp === pgid) out.push(info);
  }
  return out;
}

/** Resident set size in KiB (VmRSS), or NaN when the process is gone. */
export function rssKiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Waits until `pid` has used less than `busyShare` of one core over a `windowMs` window (work
 * still trailing earlier steps has drained), at most `limitMs`; returns how long it waited.
 */
export async function waitUntilQuiet(pid: number | null, limitMs: number, windowMs = 250, busyShare = 0.05): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = performance.now();
  if (pid === null) return { waitedMs: 0, quiet: false };
  for (;;) {
    const before = readStat(pid)?.cpuSeconds ?? NaN;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const used = (readStat(pid)?.cpuSeconds ?? NaN) - before;
    const waitedMs = Math.round(performance.now() - started);
    if (!(used >= busyShare * (windowMs / 1000))) return { waitedMs, quiet: true };
    if (waitedMs >= limitMs) return { waitedMs, quiet: false };
  }
}

export interface RuntimeProcesses {
  /** The workerd that runs the Worker and its Durable Objects (started with an inspector address). */
  runtime: number | null;
  /** The workerd of wrangler's proxy, listening on the public port, forwarding to the runtime. */
  proxy: number | null;
}

/** Labels the group's processes. Wrangler dev runs two workerd: its proxy (entry on the public port) and the Worker's. */
export function findRuntime(pgid: number, port: number): RuntimeProcesses {
  const workerds = processGroup(pgid).filter((p) => p.comm === "workerd");
  const proxy = workerds.find((p) => p.cmdline.includes(`entry=127.0.0.1:${port} `) || p.cmdline.includes(`entry=127.0.0.1:${port}`));
  const runtime = workerds.find((p) => p !== proxy && p.cmdline.includes("--inspector-addr")) ?? workerds.find((p) => p !== proxy);
  return { runtime: runtime?.pid ?? null, proxy: proxy?.pid ?? null };
}

function label(p: ProcInfo, rt: RuntimeProcesses): string {
  if (p.pid === rt.runtime) return "workerd (worker + DOs)";
  if (p.pid === rt.proxy) return "workerd (wrangler proxy)";
  if (p.comm === "node") return p.cmdline.includes("wrangler-dist") ? "wrangler (node)" : "wrangler launcher (node)";
  return p.comm;
}

/** Whole-machine CPU time from /proc/stat, in seconds: busy (user+nice+system+irq+softirq+steal) and iowait. */
function machineCpu(): { busy: number; iowait: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const [, user, nice, system, , iowait, irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const t = ticksPerSecond();
    return { busy: (user! + nice! + system! + irq! + softirq! + steal!) / t, iowait: iowait! / t };
  } catch {
    return { busy: NaN, iowait: NaN };
  }
}

/** Write and read counters of a process from /proc/<pid>/io (bytes that reached the storage layer, and syscalls). */
export function ioOf(pid: number | null): { write_bytes: number; read_bytes: number; write_syscalls: number } {
  if (pid === null) return { write_bytes: NaN, read_bytes: NaN, write_syscalls: NaN };
  try {
    const fields = new Map(
      readFileSync(`/proc/${pid}/io`, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(": ") as [string, string]),
    );
    return { write_bytes: Number(fields.get("write_bytes")), read_bytes: Number(fields.get("read_bytes")), write_syscalls: Number(fields.get("syscw")) };
  } catch {
    return { write_bytes: NaN, read_bytes: NaN, write_syscalls: NaN };
  }
}

export interface CpuReport {
  /** Disk traffic of the runtime workerd over the phase (its Durable Objects' SQLite files, D1's, WAL). */
  runtime_io: { write_bytes: number; read_bytes: number; write_syscalls: number };
  wall_s: number;
  /** Cores busy on processes that are neither the server nor this client (other work on the machine). */
  other_cores: number;
  /** Cores' worth of time spent waiting for I/O, machine-wide. */
  iowait_cores: number;
  /** CPU seconds per second of wall time (1.0 = one core busy), per process. */
  processes: { label: string; pid: number; cpu_cores: number }[];
}

/** CPU used by the server's processes and by this load generator over an interval. */
export class CpuMeter {
  private startWall = 0;
  private startServer = new Map<number, number>();
  private startSelf: NodeJS.CpuUsage = process.cpuUsage();
  private startMachine = machineCpu();
  private startIo = ioOf(null);

  private readonly pgid: number;
  private readonly rt: RuntimeProcesses;

  constructor(pgid: number, rt: RuntimeProcesses) {
    this.pgid = pgid;
    this.rt = rt;
  }

  start(): void {
    this.startWall = performance.now();
    this.startSelf = process.cpuUsage();
    this.startMachine = machineCpu();
    this.startIo = ioOf(this.rt.runtime);
    this.startServer = new Map(processGroup(this.pgid).map((p) => [p.pid, p.cpuSeconds]));
  }

  stop(): CpuReport {
    const wall = (performance.now() - this.startWall) / 1000;
    const self = process.cpuUsage(this.startSelf);
    const machine = machineCpu();
    const io = ioOf(this.rt.runtime);
    const processes = processGroup(this.pgid)
      .map((p) => ({ label: label(p, this.rt), pid: p.pid, cpu_cores: (p.cpuSeconds - (this.startServer.get(p.pid) ?? 0)) / wall }))
      .filter((p) => p.cpu_cores > 0.005);
    processes.push({ label: "bench client (this node)", pid: process.pid, cpu_cores: (self.user + self.system) / 1e6 / wall });
    const ours = processes.reduce((a, p) => a + p.cpu_cores, 0);
    const r2 = (n: number) => Math.round(n * 100) / 100;
    return {
      runtime_io: {
        write_bytes: io.write_bytes - this.startIo.write_bytes,
        read_bytes: io.read_bytes - this.startIo.read_bytes,
        write_syscalls: io.write_syscalls - this.startIo.write_syscalls,
      },
      wall_s: wall,
      other_cores: r2(Math.max(0, (machine.busy - this.startMachine.busy) / wall - ours)),
      iowait_cores: r2((machine.iowait - this.startMachine.iowait) / wall),
      processes: processes.map((p) => ({ ...p, cpu_cores: r2(p.cpu_cores) })),
    };
  }
}

export function formatCpu(report: CpuReport): string {
  return [
    ...report.processes.map((p) => `${p.label} ${p.cpu_cores.toFixed(2)}`),
    `other processes ${report.other_cores.toFixed(2)}`,
    `iowait ${report.iowait_cores.toFixed(2)}`,
    `runtime wrote ${(report.runtime_io.write_bytes / 2 ** 20).toFixed(1)} MiB in ${report.runtime_io.write_syscalls} write calls`,
  ].join(", ");
}
