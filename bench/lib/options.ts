// Command-line options of `npm run bench` (`npm run bench -- --scenarios fanout --listeners 10`).

export const ALL_SCENARIOS = ["fanout", "throughput", "many", "connections", "history", "cost", "groups", "inbox-fanout", "webhooks", "groups10k", "soak", "soak-churn", "cpu"] as const;
export type ScenarioName = (typeof ALL_SCENARIOS)[number];

/** The soak's traffic besides socket sends and reconnects: REST sends, typing, read frames. */
export const SOAK_EXTRAS = ["rest", "typing", "reads"] as const;
export type SoakExtra = (typeof SOAK_EXTRAS)[number];

/** many: one load — `conversations` direct conversations of two users, each user sending `perUser` messages a second. */
export interface ManyLoad {
  conversations: number;
  perUser: number;
}
export const DEFAULT_SCENARIOS: ScenarioName[] = ["fanout", "throughput", "many", "connections", "history", "cost", "groups", "inbox-fanout", "webhooks"];

/** webhooks: how the receiver is down — nothing listening (connection refused), or accepting and never answering. */
export const WEBHOOK_DOWN_MODES = ["refused", "hanging"] as const;
export type WebhookDownMode = (typeof WEBHOOK_DOWN_MODES)[number];

export interface Options {
  scenarios: ScenarioName[];
  /** fan-out: listener counts, one run each */
  listeners: number[];
  /** fan-out: messages per second from the sender */
  rate: number;
  /** seconds of measured traffic in fan-out, throughput and many-conversations runs */
  duration: number;
  /** throughput: sender counts (one run per senders × window) */
  senders: number[];
  /** throughput: unacknowledged messages each sender keeps in flight */
  window: number[];
  /** many: the loads, one run each (on the product, then the probe) */
  manyLoads: ManyLoad[];
  /** many: conversations whose recipient's list is polled for freshness (last load, product) */
  freshnessSample: number;
  /** many: ms between polls of one recipient's list */
  freshnessPollMs: number;
  /** connections: sockets to open to one conversation */
  connections: number;
  /** connections: distinct users the sockets are spread over */
  connectionUsers: number;
  /** connections: sockets being set up at once */
  connectConcurrency: number;
  /** connections: idle seconds to wait for the object to hibernate */
  hibernateWait: number;
  /** history: messages in the conversation */
  historySize: number;
  /** history: requests per page position */
  historyRequests: number;
  /** history: messages in flight while filling */
  fillWindow: number;
  /** cost: messages per cost run */
  costMessages: number;
  /** groups: members added one at a time (each then opens a socket) */
  groupSize: number;
  /** groups10k: members added one at a time */
  bigGroupSize: number;
  /** groups10k: how many of them open a socket */
  bigGroupOnline: number;
  /** inbox-fanout: listeners (each phase) */
  inboxListeners: number;
  /** webhooks: the receiver's down modes, one run each after the run with it up */
  webhookDown: WebhookDownMode[];
  /** fanout, throughput, groups: also run the ceiling probe (bench/probe) and print ratios to it */
  probe: boolean;
  /** fanout (10 listeners) and throughput (4 senders × 8): product and probe runs, in turns, that the ratio targets take the median of; cpu: its rounds of messages */
  pairs: number;
  /** cpu: messages per second on each of product and probe at once */
  cpuRate: number;
  /** cpu: first sockets on each of product and probe at once */
  cpuConnects: number;
  /** soak: minutes */
  soakMinutes: number;
  /** soak: conversations */
  soakConversations: number;
  /** soak: "rest,typing,reads" — which of the soak's extras to make (to find what memory growth comes with) */
  soakExtras: SoakExtra[];
  /** characters of each message's content */
  contentLength: number;
  /** CPU-profile the Worker isolate during measured phases (slows it down) */
  profile: boolean;
  /** keep wrangler dev's local observability on (see scripts/dev-server.ts) */
  localObservability: boolean;
  /** the folder servers keep their local state in; null = a RAM disk (/dev/shm) when there is one, else the temp folder */
  stateDir: string | null;
  /** print wrangler's output */
  verbose: boolean;
  /** run the working tree instead of a snapshot of it (edits during the run restart the runtime) */
  live: boolean;
  /** JSON output file (default bench/results/<timestamp>.json) */
  out: string | null;
}

export const DEFAULTS: Options = {
  scenarios: DEFAULT_SCENARIOS,
  listeners: [10, 100],
  rate: 200,
  duration: 10,
  senders: [1, 4],
  window: [8],
  manyLoads: [
    { conversations: 50, perUser: 2 },
    { conversations: 200, perUser: 1 },
  ],
  freshnessSample: 20,
  freshnessPollMs: 50,
  connections: 1000,
  connectionUsers: 1,
  connectConcurrency: 50,
  hibernateWait: 15,
  historySize: 100_000,
  historyRequests: 200,
  fillWindow: 128,
  costMessages: 200,
  groupSize: 1000,
  bigGroupSize: 10_000,
  bigGroupOnline: 50,
  inboxListeners: 10,
  webhookDown: ["refused", "hanging"],
  probe: true,
  pairs: 3,
  cpuRate: 800,
  cpuConnects: 500,
  soakMinutes: 10,
  soakConversations: 20,
  soakExtras: [...SOAK_EXTRAS],
  contentLength: 64,
  profile: false,
  localObservability: false,
  stateDir: null,
  verbose: false,
  live: false,
  out: null,
};

interface Spec {
  key: keyof Options;
  kind: "int" | "ints" | "number" | "scenarios" | "flag" | "string" | "loads" | "webhook-down" | "soak-extras";
  min?: number;
  max?: number;
  help: string;
}

const SPECS: Record<string, Spec> = {
  scenarios: { key: "scenarios", kind: "scenarios", help: `comma list of ${ALL_SCENARIOS.join(",")} (default ${DEFAULT_SCENARIOS.join(",")}; groups10k, soak, soak-churn and cpu only when named)` },
  listeners: { key: "listeners", kind: "ints", min: 1, max: 2000, help: "fan-out listener counts, one run each (default 10,100)" },
  rate: { key: "rate", kind: "number", min: 1, max: 100_000, help: "fan-out messages per second (default 200)" },
  duration: { key: "duration", kind: "number", min: 1, max: 600, help: "seconds of measured traffic per run (default 10)" },
  senders: { key: "senders", kind: "ints", min: 1, max: 100, help: "throughput sender counts (default 1,4)" },
  window: { key: "window", kind: "ints", min: 1, max: 10_000, help: "throughput messages in flight per sender (default 8)" },
  "many-loads": { key: "manyLoads", kind: "loads", min: 1, max: 1000, help: "many: loads as CONVERSATIONSxMSG_PER_S_PER_USER, 2 users per conversation (default 50x2,200x1)" },
  "freshness-sample": { key: "freshnessSample", kind: "int", min: 1, max: 200, help: "many: conversations whose recipient's list is polled during the last load (default 20)" },
  "freshness-poll-ms": { key: "freshnessPollMs", kind: "int", min: 10, max: 1000, help: "many: ms between two polls of one list (default 50)" },
  connections: { key: "connections", kind: "int", min: 1, max: 20_000, help: "sockets for the connections scenario (default 1000)" },
  "connection-users": { key: "connectionUsers", kind: "int", min: 1, max: 1000, help: "users those sockets belong to (default 1: the per-socket cost without per-user objects)" },
  "connect-concurrency": { key: "connectConcurrency", kind: "int", min: 1, max: 1000, help: "socket setups in flight (default 50)" },
  "hibernate-wait": { key: "hibernateWait", kind: "number", min: 0, max: 600, help: "idle seconds before measuring hibernated memory (default 15)" },
  "history-size": { key: "historySize", kind: "int", min: 100, max: 10_000_000, help: "messages in the history conversation (default 100000)" },
  "history-requests": { key: "historyRequests", kind: "int", min: 1, max: 100_000, help: "page requests per position (default 200)" },
  "fill-window": { key: "fillWindow", kind: "int", min: 1, max: 10_000, help: "messages in flight while filling history (default 128)" },
  "cost-messages": { key: "costMessages", kind: "int", min: 1, max: 100_000, help: "messages per cost run (default 200)" },
  "group-size": { key: "groupSize", kind: "int", min: 2, max: 20_000, help: "groups: members added one at a time, each then with a socket (default 1000)" },
  "big-group-size": { key: "bigGroupSize", kind: "int", min: 2, max: 100_000, help: "groups10k: members added one at a time (default 10000)" },
  "big-group-online": { key: "bigGroupOnline", kind: "int", min: 1, max: 10_000, help: "groups10k: members with a socket (default 50)" },
  "inbox-listeners": { key: "inboxListeners", kind: "int", min: 1, max: 2000, help: "inbox-fanout: listeners, on conversation sockets then on inbox subscriptions (default 10)" },
  "webhook-down": { key: "webhookDown", kind: "webhook-down", help: `webhooks: comma list of ${WEBHOOK_DOWN_MODES.join(",")}, a run each besides the one with the receiver up (default both)` },
  probe: { key: "probe", kind: "flag", help: "run the ceiling probe beside the product in fanout, throughput, many and groups (default on; --no-probe to skip)" },
  pairs: { key: "pairs", kind: "int", min: 1, max: 15, help: "fan-out at 10 listeners and throughput at 4 senders × 8: product and probe runs in turns, each pair on fresh servers; the ratio targets take the median pair (default 3); cpu: its rounds of messages" },
  "cpu-rate": { key: "cpuRate", kind: "int", min: 1, max: 5000, help: "cpu: messages per second on each of product and probe, loaded at once (default 800)" },
  "cpu-connects": { key: "cpuConnects", kind: "int", min: 1, max: 5000, help: "cpu: first sockets on each of product and probe, at once (default 500)" },
  "soak-minutes": { key: "soakMinutes", kind: "number", min: 0.25, max: 120, help: "soak length in minutes (default 10)" },
  "soak-conversations": { key: "soakConversations", kind: "int", min: 1, max: 500, help: "soak conversations, 3 users each (default 20)" },
  "soak-extras": { key: "soakExtras", kind: "soak-extras", help: `soak: which of its extras to make, a comma list of ${SOAK_EXTRAS.join(",")} or none (default all)` },
  "content-length": { key: "contentLength", kind: "int", min: 1, max: 1000, help: "characters per message (default 64)" },
  profile: { key: "profile", kind: "flag", help: "CPU-profile the Worker isolate during measured phases (slower; see README)" },
  "local-observability": { key: "localObservability", kind: "flag", help: "keep wrangler dev's local observability on in every server, product and probe (off by default: it traces every invocation into the runtime, costing CPU and growing its memory)" },
  "state-dir": { key: "stateDir", kind: "string", help: "folder for the servers' local state (D1, R2, objects' SQLite files); default /dev/shm when it exists (RAM), else the temp folder" },
  verbose: { key: "verbose", kind: "flag", help: "print wrangler's output" },
  live: { key: "live", kind: "flag", help: "serve the working tree instead of a snapshot taken at start (edits then restart the runtime mid-run)" },
  out: { key: "out", kind: "string", help: "JSON results file (default bench/results/<timestamp>.json)" },
};

export function usage(): string {
  const lines = ["usage: npm run bench -- [options]", ""];
  for (const [name, spec] of Object.entries(SPECS)) lines.push(`  --${name.padEnd(20)} ${spec.help}`);
  lines.push("  --help                 this text");
  return lines.join("\n");
}

export class OptionError extends Error {}

export function parseOptions(argv: string[]): Options | "help" {
  const options: Options = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return "help";
    if (!arg.startsWith("--")) throw new OptionError(`unexpected argument ${arg}`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const negated = name.startsWith("no-") && SPECS[name.slice(3)]?.kind === "flag" && eq === -1;
    const spec = negated ? SPECS[name.slice(3)] : SPECS[name];
    if (!spec) throw new OptionError(`unknown option --${name}`);
    if (negated) {
      (options[spec.key] as boolean) = false;
      continue;
    }
    if (spec.kind === "flag") {
      (options[spec.key] as boolean) = eq === -1 ? true : arg.slice(eq + 1) !== "false";
      continue;
    }
    const raw = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined) throw new OptionError(`--${name} needs a value`);
    (options as unknown as Record<string, unknown>)[spec.key] = convert(name, spec, raw);
  }
  return options;
}

function convert(name: string, spec: Spec, raw: string): unknown {
  const number = (text: string, integer: boolean) => {
    const n = Number(text);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new OptionError(`--${name}: ${text} is not ${integer ? "an integer" : "a number"}`);
    if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
      throw new OptionError(`--${name}: ${text} is outside ${spec.min}..${spec.max}`);
    }
    return n;
  };
  switch (spec.kind) {
    case "int":
      return number(raw, true);
    case "number":
      return number(raw, false);
    case "ints":
      return raw.split(",").filter(Boolean).map((t) => number(t.trim(), true));
    case "string":
      return raw;
    case "loads":
      return raw
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean)
        .map((t) => {
          const m = /^(\d+)x(\d+(?:\.\d+)?)$/.exec(t);
          if (!m) throw new OptionError(`--${name}: ${t} is not CONVERSATIONSxRATE (e.g. 200x1)`);
          const perUser = Number(m[2]);
          if (perUser <= 0 || perUser > 50) throw new OptionError(`--${name}: ${t}: the rate per user is outside (0, 50]`);
          return { conversations: number(m[1]!, true), perUser };
        });
    case "webhook-down": {
      const modes = raw.split(",").map((t) => t.trim()).filter(Boolean);
      for (const m of modes) if (!(WEBHOOK_DOWN_MODES as readonly string[]).includes(m)) throw new OptionError(`--webhook-down: unknown mode ${m}`);
      return modes as WebhookDownMode[];
    }
    case "soak-extras": {
      if (raw === "none") return [];
      const extras = raw.split(",").map((t) => t.trim()).filter(Boolean);
      for (const e of extras) if (!(SOAK_EXTRAS as readonly string[]).includes(e)) throw new OptionError(`--soak-extras: unknown extra ${e}`);
      return extras as SoakExtra[];
    }
    case "scenarios": {
      const names = raw.split(",").map((t) => t.trim()).filter(Boolean);
      for (const n of names) if (!(ALL_SCENARIOS as readonly string[]).includes(n)) throw new OptionError(`--scenarios: unknown scenario ${n}`);
      return names as ScenarioName[];
    }
    default:
      throw new OptionError(`--${name}: unsupported`);
  }
}
