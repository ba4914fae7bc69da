// `npm run bench`: starts the Worker locally (wrangler dev, fresh D1 per scenario), runs each
// scenario against it over 127.0.0.1, prints tables and writes bench/results/<timestamp>.json.
// Options: `npm run bench -- --help`.
import { accessSync, constants, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { OptionError, parseOptions, usage, type Options, type ScenarioName } from "./lib/options.ts";
import { newSection, renderTable, type CostRow, type Section, type Table } from "./lib/report.ts";
import type { Context } from "./lib/scenario.ts";
import { stopAllServers, useLocalObservability, useSourceRoot, useStateParent } from "./lib/server.ts";
import { liveTree, takeSnapshot, type Snapshot } from "./lib/snapshot.ts";
import { log, withTimeout } from "./lib/util.ts";
import { connections } from "./scenarios/connections.ts";
import { cost } from "./scenarios/cost.ts";
import { cpu } from "./scenarios/cpu.ts";
import { fanout } from "./scenarios/fanout.ts";
import { addLimitSeconds, connectLimitSeconds, groups, groups10k } from "./scenarios/groups.ts";
import { history } from "./scenarios/history.ts";
import { inboxFanout } from "./scenarios/inbox-fanout.ts";
import { many } from "./scenarios/many.ts";
import { soak } from "./scenarios/soak.ts";
import { soakChurn } from "./scenarios/soak-churn.ts";
import { throughput } from "./scenarios/throughput.ts";
import { webhooks } from "./scenarios/webhooks.ts";

const ROOT = join(import.meta.dirname, "..");
/**
 * The local runtime keeps every Durable Object in its own SQLite files: on a disk, creating them
 * (each member's first socket creates their user object) and syncing the log is mostly the file
 * system's time, and it varies with the disk's state. A RAM disk leaves the runtime's own work.
 */
const RAM_DISK = "/dev/shm";

function defaultStateDir(): string {
  try {
    accessSync(RAM_DISK, constants.W_OK);
    return statSync(RAM_DISK).isDirectory() ? RAM_DISK : tmpdir();
  } catch {
    return tmpdir();
  }
}

const RESULTS = join(import.meta.dirname, "results");

const SCENARIOS: Record<ScenarioName, (ctx: Context) => Promise<Section>> = { fanout, throughput, many, connections, history, cost, groups, "inbox-fanout": inboxFanout, webhooks, groups10k, soak, "soak-churn": soakChurn, cpu };

/** An upper bound on each scenario's wall time; past it the run is abandoned (servers stopped). */
function budgetSeconds(name: ScenarioName, o: Options): number {
  const base = 180;
  // Scenarios that also run the ceiling probe do their runs twice (plus a server start each).
  const targets = o.probe ? 2 : 1;
  switch (name) {
    case "fanout":
      // each listener count once, and the target's 10 listeners in --pairs pairs
      return base + targets * (o.listeners.length + (o.listeners.includes(10) ? o.pairs - 1 : 0)) * (o.duration + 60);
    case "throughput":
      // every senders × window run, then the target's alone in the other pairs (a fresh server each)
      return base * targets + targets * o.senders.length * o.window.length * (o.duration + 60) + (o.pairs - 1) * targets * (o.duration + 90);
    case "many":
      // per load and target: set-up (logins, conversations, sockets), warm-up, the phase, drain, settled counters; plus the product's freshness phase
      return base * targets + targets * o.manyLoads.reduce((a, l) => a + l.conversations / 4 + 1 / l.perUser + o.duration + 90, 0) + o.duration + 30;
    case "connections":
      return base + o.hibernateWait + o.connections / 5;
    case "history":
      return base + o.historySize / 100 + o.historyRequests;
    case "cost":
      return base + o.costMessages;
    case "groups":
      // logins, the bounded build, two rounds of bounded connects (+ 30 s each for those in flight) and the messages;
      // the probe the same, plus its round of first sockets with member objects
      return base * targets + o.groupSize / 20 + addLimitSeconds(o.groupSize) + targets * (2 * (connectLimitSeconds(o.groupSize) + 30) + 120) + (o.probe ? connectLimitSeconds(o.groupSize) + 30 : 0);
    case "groups10k":
      return base * targets + o.bigGroupSize / 20 + addLimitSeconds(o.bigGroupSize) + targets * (connectLimitSeconds(o.bigGroupOnline) + 30 + 120);
    case "inbox-fanout":
      // two phases on one server: logins, sockets, warm-up, the phase and its drain each
      return base + 2 * (o.duration + 60);
    case "webhooks":
      // a fresh server per receiver mode (up, then each down mode)
      return base + (1 + o.webhookDown.length) * (o.duration + 60);
    case "cpu":
      // two servers, the rounds of messages, the group's creation and the first sockets
      return base * 2 + o.pairs * (o.duration + 30) + o.cpuConnects / 5 + 120;
    case "soak":
    case "soak-churn":
      return (base + o.soakMinutes * 60 + 60) * targets;
  }
}

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function machine(tree: Snapshot) {
  const cpu = cpus();
  return {
    cpu_model: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    wrangler: versionOf("wrangler"),
    workerd: versionOf("workerd"),
    commit: tree.commit,
    uncommitted_changes: tree.dirty,
    served_from: tree.root === ROOT ? "working tree (--live)" : `snapshot ${tree.root}`,
  };
}

function print(text: string): void {
  process.stdout.write(text + "\n");
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    const parsed = parseOptions(process.argv.slice(2));
    if (parsed === "help") {
      print(usage());
      return 0;
    }
    opts = parsed;
  } catch (err) {
    if (err instanceof OptionError) {
      process.stderr.write(`${err.message}\n\n${usage()}\n`);
      return 2;
    }
    throw err;
  }

  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = opts.out ?? join(RESULTS, `${stamp}.json`);
  const ctx: Context = { opts, resultsDir: RESULTS, stamp };
  const tree = opts.live ? liveTree() : takeSnapshot();
  snapshot = tree;
  useSourceRoot(tree.root);
  useLocalObservability(opts.localObservability);
  const stateDir = opts.stateDir ?? defaultStateDir();
  useStateParent(stateDir);
  const host = machine(tree);
  const started = new Date();
  const sections: Section[] = [];

  print(`edge-chat benchmarks — ${started.toISOString()}`);
  print(`machine: ${host.cpu_model}, ${host.cores} cores, ${host.memory_gib} GiB, ${host.os}`);
  print(`node ${host.node}, wrangler ${host.wrangler}, workerd ${host.workerd}, commit ${host.commit}${host.uncommitted_changes ? " + uncommitted changes" : ""}, served from ${host.served_from}`);
  print(`scenarios: ${opts.scenarios.join(", ")}${opts.profile ? " (profiled: numbers are slower than unprofiled runs)" : ""}`);
  print(`wrangler dev's local observability: ${opts.localObservability ? "on (every invocation traced into the runtime)" : "off"}`);
  print(`servers' local state (objects' SQLite files, D1, R2) in ${stateDir}${stateDir === RAM_DISK ? " (RAM)" : ""}`);
  print("");

  const save = () =>
    writeFileSync(
      out,
      JSON.stringify(
        { started_at: started.toISOString(), finished_at: new Date().toISOString(), machine: host, options: opts, sections },
        (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
        2,
      ),
    );

  let failed = false;
  for (const name of opts.scenarios) {
    const t0 = performance.now();
    log(`── scenario ${name}`);
    let section: Section;
    try {
      section = await withTimeout(SCENARIOS[name](ctx), budgetSeconds(name, opts) * 1000, `scenario ${name}`);
    } catch (err) {
      failed = true;
      section = newSection(name, {});
      section.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`scenario ${name} failed: ${section.error}`);
      await stopAllServers();
    }
    section.data.wall_seconds = Math.round((performance.now() - t0) / 100) / 10;
    sections.push(section);
    save();
    for (const table of section.tables) print(renderTable(table) + "\n");
    for (const note of section.notes) print(`note (${name}): ${note}`);
    if (section.error) print(`scenario ${name} FAILED: ${section.error.split("\n")[0]}\n`);
  }

  const costs: CostRow[] = sections.flatMap((s) => s.costs);
  if (costs.length > 0) {
    const table: Table = {
      title:
        "Cost per message — from the conversation objects' counters and the mirror queue consumer's meter over each run (D1 requests = the objects' direct D1 requests + the consumer's batches, one request each; D1 writes = statements of both; D1 rows = rows of the objects' direct writes only; queue = summaries sent to the mirror queue; DO rows = rows written to the conversation object's storage; frames = socket frames sent), and the runtime workerd's disk writes per message (/proc/<pid>/io: every object's SQLite, D1, WAL)",
      headers: ["scenario", "run", "messages", "D1 req/msg", "D1 req direct+batches", "D1 writes/msg", "D1 rows/msg", "queue/msg", "DO rows/msg", "frames/msg", "counters ok", "disk KiB/msg", "write calls/msg"],
      rows: costs.map((c) => [
        c.scenario,
        c.run,
        c.messages,
        c.d1_requests_per_message,
        Number.isFinite(c.d1_requests) ? `${c.direct_d1_flushes}+${c.mirror_batches}` : null,
        c.d1_writes_per_message,
        c.d1_rows_per_message,
        c.queue_sends_per_message,
        c.storage_rows_per_message,
        c.frames_per_message,
        c.reliable,
        c.disk_kib_per_message,
        c.disk_write_calls_per_message,
      ]),
    };
    print(renderTable(table) + "\n");
  }
  // A missed target is reported, never a failed run: the exit code only says whether every scenario ran.
  const targets = sections.flatMap((s) => s.targets.map((t) => [s.scenario, t.target, t.measured, t.met ? "PASS" : "FAIL"] as const));
  if (targets.length > 0) {
    print(renderTable({ title: "Targets", headers: ["scenario", "target", "measured", "met"], rows: targets.map((t) => [...t]) }) + "\n");
  }
  save();
  print(`results: ${out} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`);
  return failed ? 1 : 0;
}

let snapshot: Snapshot | null = null;

async function cleanUp(): Promise<void> {
  await stopAllServers();
  snapshot?.remove();
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping servers`);
    void cleanUp().finally(() => process.exit(130));
  });
}

main()
  .then(async (code) => {
    await cleanUp();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanUp();
    process.exit(1);
  });
