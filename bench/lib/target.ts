// What the scenarios that compare the product with the ceiling probe drive: a server, and a way to
// get socket URLs for N users in one room. The product needs a login per user and a group
// conversation made by the first; the probe (bench/probe) needs nothing — a room exists once
// named. Both speak the frames the scenarios use: hello, message.send {client_id, content, ref},
// message.ack {client_id, ref, message}, message.new {message}. A two-member room can be the
// product's direct conversation instead of a group (`direct`); the probe serves any number of
// rooms, so `rooms` sets up many at once on either.
import type { User } from "./api.ts";
import { socketUrl } from "./client.ts";
import { tryStats } from "./cost.ts";
import type { Options } from "./options.ts";
import { startProbeServer } from "./probe.ts";
import type { Counters } from "./report.ts";
import type { Measurable } from "./scenario.ts";
import { startBenchServer, type BenchServer } from "./server.ts";
import { mapLimit } from "./util.ts";

export type TargetKind = "product" | "probe";

export interface Room {
  /** the conversation's id (product) or the room's name (probe) */
  id: string;
  /** one socket URL per member; member 0 made the room */
  urls: string[];
  /** the product's users, in the order of `urls` (for REST calls as them); null for the probe */
  users: User[] | null;
}

export interface RoomOptions {
  /** two members only: the product makes a direct conversation instead of a group */
  direct?: boolean;
  /** the probe names its users u0, u1, … in every room; with this, after the room (its per-user objects are then new ones) */
  ownUsers?: boolean;
}

export interface Target {
  kind: TargetKind;
  url: string;
  /** for measured(): processes, CPU, profile */
  server: Measurable;
  /** the product's server, for what only the product has (REST, cost counters); null for the probe */
  product: BenchServer | null;
  /** A room of `members` users; `name` must be unique on this server (it prefixes the users' emails). */
  room(members: number, name: string, options?: RoomOptions): Promise<Room>;
  /** One REST read of a room's newest 50 messages (the product's history page; the probe's /messages). */
  readHistory(room: Room): Promise<void>;
  /** The cost counters summed over `ids` plus the mirror meter (settled); null for the probe, or when unavailable. */
  stats(ids: string[], onError?: (err: unknown) => void): Promise<Counters | null>;
  stop(): Promise<void>;
}

/** The targets a comparing scenario runs: the product, then (unless --no-probe) the probe. */
export function targetKinds(opts: Options): TargetKind[] {
  return opts.probe ? ["product", "probe"] : ["product"];
}

/** "" for the product, " (probe)" for the probe: appended to phase labels so both are kept apart in the JSON. */
export function suffix(kind: TargetKind): string {
  return kind === "probe" ? " (probe)" : "";
}

export async function startTarget(kind: TargetKind, verbose: boolean): Promise<Target> {
  if (kind === "product") {
    const server = await startBenchServer({}, verbose);
    return {
      kind,
      url: server.url,
      server,
      product: server,
      async room(members, name, options) {
        const users = await server.api.loginMany(name, members, members > 100 ? 16 : 8);
        if (options?.direct && members !== 2) throw new Error(`a direct room has 2 members, not ${members}`);
        const id = options?.direct ? await server.api.createDirect(users[0]!, users[1]!) : await server.api.createGroup(users[0]!, users.slice(1), name);
        return { id, urls: users.map((u) => socketUrl(server.url, id, u.token)), users };
      },
      readHistory: async (room) => void (await server.api.history(room.users![0]!, room.id, "limit=50")),
      stats: (ids, onError) => tryStats(server.api, server.admin, ids, onError),
      stop: () => server.stop(),
    };
  }
  const server = await startProbeServer(verbose);
  const ws = server.url.replace(/^http/, "ws");
  return {
    kind,
    url: server.url,
    server,
    product: null,
    async room(members, name, options) {
      const id = name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 100);
      const user = (i: number) => (options?.ownUsers ? `${id}.u${i}` : `u${i}`);
      return { id, urls: Array.from({ length: members }, (_, i) => `${ws}/rooms/${id}/ws?user=${user(i)}`), users: null };
    },
    readHistory: async (room) => {
      const response = await fetch(`${server.url}/rooms/${room.id}/messages`);
      if (!response.ok) throw new Error(`probe history: ${response.status}`);
      await response.arrayBuffer();
    },
    stats: () => Promise.resolve(null),
    stop: () => server.stop(),
  };
}

/** `count` rooms of `members` each, named `<prefix><i>`, set up `concurrency` at a time; in order. */
export function rooms(target: Target, count: number, members: number, prefix: string, options?: RoomOptions, concurrency = 8): Promise<Room[]> {
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    (i) => target.room(members, `${prefix}${i}`, options),
  );
}
