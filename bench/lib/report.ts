// What a scenario hands back, and how it is printed: plain-text tables for stdout, everything
// (including per-listener detail) in the JSON file.
import type { ConversationStats } from "./api.ts";

export type Cell = string | number | boolean | null;

export interface Table {
  title: string;
  headers: string[];
  rows: Cell[][];
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

/**
 * What the benchmarks read before and after a run: the conversation objects' counters summed over
 * the run's conversations, plus the mirror queue consumer's meter (deployment-wide: a run's delta
 * is its own only when nothing else sends meanwhile, which holds for every scenario here).
 */
export interface Counters extends ConversationStats {
  /** D1 batches the mirror queue's consumer wrote (one D1 request each) */
  mirror_batches: number;
  /** queue messages those batches carried */
  mirror_messages: number;
  /** statements in those batches */
  mirror_statements: number;
}

/** What one run cost per message, from the conversation objects' counters and the mirror meter (deltas over the run). */
export interface CostRow {
  scenario: string;
  run: string;
  messages: number;
  /** D1 requests per message: the objects' direct D1 requests plus the consumer's batches */
  d1_requests_per_message: number;
  /** D1 requests in all: direct_d1_flushes + mirror_batches */
  d1_requests: number;
  /** D1 requests the conversation objects made themselves (their d1_flushes) */
  direct_d1_flushes: number;
  /** D1 batches the mirror queue's consumer wrote */
  mirror_batches: number;
  /** D1 statements per message: the objects' own plus the consumer's */
  d1_writes_per_message: number;
  /** D1 rows per message written by the objects' direct writes (the consumer does not count rows) */
  d1_rows_per_message: number;
  /** summaries sent to the mirror queue per message */
  queue_sends_per_message: number;
  storage_rows_per_message: number;
  frames_per_message: number;
  /** bytes the runtime workerd wrote to disk per message during the run (all objects, D1, WAL), KiB */
  disk_kib_per_message: number;
  /** write system calls of the runtime workerd per message during the run */
  disk_write_calls_per_message: number;
  /** false when a counter went backwards (an object restarted during the run): the row is not trustworthy. */
  reliable: boolean;
}

export interface Section {
  scenario: string;
  params: Record<string, unknown>;
  tables: Table[];
  targets: TargetCheck[];
  costs: CostRow[];
  notes: string[];
  /** Full detail for the JSON file. */
  data: Record<string, unknown>;
  error?: string;
}

export function newSection(scenario: string, params: Record<string, unknown>): Section {
  return { scenario, params, tables: [], targets: [], costs: [], notes: [], data: {} };
}

export function fmt(value: Cell, digits = 2): string {
  if (value === null) return "-";
  if (typeof value === "boolean") return value ? "yes" : "NO";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return "-";
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(Math.abs(value) >= 100 ? 1 : digits);
  }
  return value;
}

export function renderTable(table: Table): string {
  const cells = [table.headers, ...table.rows.map((r) => r.map((c) => fmt(c)))];
  const widths = table.headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [table.title, line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of cells.slice(1)) out.push(line(r as string[]));
  return out.join("\n");
}

/**
 * Per-message costs from counters read before and after a run. The objects' counters live in
 * their memory since the instance started, so a run is only trustworthy when every counter moved
 * forward and the message count moved by what the run stored (`expected`, when known). Under
 * sustained socket load the local runtime has been seen to replace the instance when the load
 * ends (counters start again at zero), which this detects. D1 requests and statements are the
 * objects' direct ones plus the mirror consumer's batches and their statements.
 */
export function costRow(
  scenario: string,
  run: string,
  before: Counters | null,
  after: Counters | null,
  expected?: number,
  io?: { write_bytes: number; write_syscalls: number },
): CostRow {
  // Disk traffic is per message the run stored (expected), which does not depend on the counters.
  const stored = expected ?? (before && after ? after.messages - before.messages : NaN);
  const disk_kib_per_message = io && stored > 0 ? Math.round((io.write_bytes / 1024 / stored) * 10) / 10 : NaN;
  const disk_write_calls_per_message = io && stored > 0 ? Math.round((io.write_syscalls / stored) * 10) / 10 : NaN;
  if (!before || !after) {
    return {
      scenario,
      run,
      messages: NaN,
      d1_requests_per_message: NaN,
      d1_requests: NaN,
      direct_d1_flushes: NaN,
      mirror_batches: NaN,
      d1_writes_per_message: NaN,
      d1_rows_per_message: NaN,
      queue_sends_per_message: NaN,
      storage_rows_per_message: NaN,
      frames_per_message: NaN,
      disk_kib_per_message,
      disk_write_calls_per_message,
      reliable: false,
    };
  }
  const d = (k: keyof Counters) => after[k] - before[k];
  const messages = d("messages");
  const reliable = (Object.keys(after) as (keyof Counters)[]).every((k) => after[k] >= before[k]) && (expected === undefined || messages === expected);
  const per = (n: number) => (messages > 0 ? Math.round((n / messages) * 1000) / 1000 : NaN);
  const d1Requests = d("d1_flushes") + d("mirror_batches");
  return {
    scenario,
    run,
    messages,
    d1_requests_per_message: per(d1Requests),
    d1_requests: d1Requests,
    direct_d1_flushes: d("d1_flushes"),
    mirror_batches: d("mirror_batches"),
    d1_writes_per_message: per(d("d1_statements") + d("mirror_statements")),
    d1_rows_per_message: per(d("d1_rows_written")),
    queue_sends_per_message: per(d("queue_sends")),
    storage_rows_per_message: per(d("storage_rows_written")),
    frames_per_message: per(d("frames_sent")),
    disk_kib_per_message,
    disk_write_calls_per_message,
    reliable,
  };
}

export const ZERO_STATS: ConversationStats = {
  messages: 0,
  last_seq: 0,
  frames_sent: 0,
  d1_flushes: 0,
  d1_statements: 0,
  d1_rows_written: 0,
  storage_rows_written: 0,
  queue_sends: 0,
  inbox_calls: 0,
};

export function addStats(a: ConversationStats, b: ConversationStats): ConversationStats {
  return {
    messages: a.messages + b.messages,
    last_seq: a.last_seq + b.last_seq,
    frames_sent: a.frames_sent + b.frames_sent,
    d1_flushes: a.d1_flushes + b.d1_flushes,
    d1_statements: a.d1_statements + b.d1_statements,
    d1_rows_written: a.d1_rows_written + b.d1_rows_written,
    storage_rows_written: a.storage_rows_written + b.storage_rows_written,
    queue_sends: a.queue_sends + b.queue_sends,
    inbox_calls: a.inbox_calls + b.inbox_calls,
  };
}

/** product / probe, 2 decimals; NaN when either is missing or the probe's is 0. */
export function ratio(product: number, probe: number): number {
  if (!Number.isFinite(product) || !Number.isFinite(probe) || probe === 0) return NaN;
  return Math.round((product / probe) * 100) / 100;
}

/** One figure measured on the product and on the ceiling probe in the same run. */
export interface Comparison {
  /** what the figure belongs to (e.g. "10 listeners", "4 senders × 8 in flight") */
  run: string;
  figure: string;
  product: number;
  probe: number;
  /** product / probe */
  ratio: number;
}

export function compare(run: string, figure: string, product: number | undefined, probe: number | undefined): Comparison {
  const a = product ?? NaN;
  const b = probe ?? NaN;
  return { run, figure, product: a, probe: b, ratio: ratio(a, b) };
}

/**
 * The ratio of a target measured in turns (product, probe, product, probe, …, each pair on fresh
 * servers): the median of the pairs' ratios. On a shared 2-core machine one pair can land on a
 * busy second for either side; the median keeps one such pair from deciding the target, and
 * every pair's ratio is printed beside it.
 */
export function medianRatio(pairs: readonly { product: number; probe: number }[]): number {
  const ratios = pairs.map((p) => ratio(p.product, p.probe)).filter((r) => Number.isFinite(r)).sort((a, b) => a - b);
  if (ratios.length === 0) return NaN;
  const mid = ratios.length >> 1;
  return ratios.length % 2 === 1 ? ratios[mid]! : Math.round(((ratios[mid - 1]! + ratios[mid]!) / 2) * 100) / 100;
}

/** A "product vs ceiling probe" table: one row per figure, the ratio last. */
export function comparisonTable(title: string, rows: Comparison[]): Table {
  return {
    title: `${title} — product vs ceiling probe, same run; ratio = product / probe`,
    headers: ["run", "figure", "product", "probe", "ratio"],
    rows: rows.map((c) => [c.run, c.figure, c.product, c.probe, c.ratio]),
  };
}
