// One socket per client, from the SDK against a real `wrangler dev`: a conversation followed
// through `client.connect().subscribe(id)` keeps every guarantee of its own ConversationSocket
// (the delivery and outbox tests run over both transports), one connection carries several
// conversations and the inbox's own events, and a subscription ends when the user is removed.
import type * as Sdk from "edge-chat/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fast, inWorkerd, range, sleep, startHarness, waitFor, type Harness } from "./harness.ts";

/** What both transports give a test: the conversation, and the connection under it. */
interface Carried {
  conversation: Pick<Sdk.ConversationSocket, "on" | "next" | "send" | "pending" | "lastSeq">;
  drop(): void;
  connect(): void;
  close(): void;
}
type Options = { afterSeq?: number; ackTimeoutMs?: number; autoConnect?: boolean };

const transports: Record<string, (client: Sdk.ChatClient, conversationId: string, options: Options) => Carried> = {
  "its own conversation socket": (client, conversationId, options) => {
    const socket = client.conversationSocket(conversationId, { ...fast, ...options });
    return { conversation: socket, drop: () => socket.dropConnection(), connect: () => socket.connect(), close: () => socket.close() };
  },
  "a subscription on the one connection": (client, conversationId, { autoConnect, ...options }) => {
    const connection = client.connect({ ...fast, ...(autoConnect !== undefined && { autoConnect }) });
    const subscription = connection.subscribe(conversationId, options);
    return { conversation: subscription, drop: () => connection.dropConnection(), connect: () => connection.connect(), close: () => connection.close() };
  },
};

/** A WebSocket class that counts the sockets made with it. */
function countingWebSocket(): { WebSocket: typeof WebSocket; count(): number } {
  let made = 0;
  class Counted extends WebSocket {
    constructor(url: string | URL) {
      super(url);
      made++;
    }
  }
  return { WebSocket: Counted, count: () => made };
}

describe.skipIf(inWorkerd)("one connection per client, against wrangler dev", () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness();
  });

  afterAll(async () => {
    await harness?.stop();
  });

  describe.each(Object.entries(transports))("a conversation through %s", (_, carry) => {
    it("delivers every message exactly once and in seq order across forced disconnects while another user keeps sending", async () => {
      const { alice, bob, conversation } = await harness.pair();
      const carried = carry(bob, conversation.id, { afterSeq: 0 });
      const live = carried.conversation;
      const seqs: number[] = [];
      const contents: string[] = [];
      live.on("message", (m) => {
        seqs.push(m.seq);
        contents.push(m.content ?? "");
      });
      let reconnects = 0;
      live.on("hello", () => reconnects++);
      await live.next("synced");

      const total = 80;
      const sending = (async () => {
        for (let i = 1; i <= total; i++) await alice.sendMessage(conversation.id, { content: `m${i}`, client_id: `c${i}` });
      })();
      // Drop the socket three times while messages keep coming: once mid-stream, once right after
      // the next hello (so the replay and the live frames overlap), once more later.
      await waitFor("some live messages", () => seqs.length >= 15);
      carried.drop();
      await live.next("hello");
      carried.drop();
      await waitFor("more messages", () => seqs.length >= 50);
      carried.drop();
      await sending;
      await waitFor("every message", () => seqs.length >= total && live.lastSeq === total);
      await sleep(200); // nothing more may trickle in

      expect(reconnects).toBeGreaterThanOrEqual(4);
      expect(seqs).toEqual(range(1, total));
      expect(contents).toEqual(range(1, total).map((i) => `m${i}`));
      carried.close();
    });

    it("the outbox retries through disconnects under the same client_id: every send acked once, no duplicates", async () => {
      const { alice, bob, conversation } = await harness.pair();
      const watcher = carry(bob, conversation.id, { afterSeq: 0 });
      const seen: number[] = [];
      watcher.conversation.on("message", (m) => seen.push(m.seq));
      const carried = carry(alice, conversation.id, { afterSeq: 0, autoConnect: false, ackTimeoutMs: 1_000 });
      const sender = carried.conversation;
      const acked: string[] = [];
      sender.on("ack", ({ client_id }) => acked.push(client_id));

      // Offline: sends wait in the outbox.
      const offline = range(1, 5).map((i) => sender.send({ content: `offline ${i}`, client_id: `off-${i}` }));
      expect(sender.pending.map((p) => p.client_id)).toEqual(range(1, 5).map((i) => `off-${i}`));
      carried.connect();
      await Promise.all(offline);

      // Online, then the socket drops right after the frames were written (before their acks).
      const burst = range(1, 20).map((i) => sender.send({ content: `burst ${i}`, client_id: `burst-${i}` }));
      carried.drop();
      await sender.next("hello");
      // And once more as soon as the first ack of the resend comes back.
      await sender.next("ack");
      carried.drop();
      const messages = await Promise.all(burst);
      expect(sender.pending).toHaveLength(0);

      const ids = [...range(1, 5).map((i) => `off-${i}`), ...range(1, 20).map((i) => `burst-${i}`)];
      expect(messages.map((m) => m.client_id)).toEqual(ids.slice(5));
      expect(new Set(acked)).toEqual(new Set(ids));
      expect(acked).toHaveLength(ids.length); // each ack event once, even when the server acked twice

      const stored = await harness.history(alice, conversation.id);
      expect(stored.map((m) => m.client_id).sort()).toEqual([...ids].sort()); // each client_id exactly once
      expect(stored.map((m) => m.seq)).toEqual(range(1, ids.length));
      await waitFor("the watcher to see everything", () => seen.length === ids.length);
      expect(seen).toEqual(range(1, ids.length));
      carried.close();
      watcher.close();
    });
  });

  it("one socket carries several conversations, each on its own subscription, and the inbox's events", async () => {
    const [{ client: ann, user: annUser }, ...others] = await Promise.all([harness.login("ann"), harness.login("bob"), harness.login("cat"), harness.login("dan")]);
    const ids = await Promise.all(others.map(({ user }) => ann.createConversation({ type: "direct", participant_ids: [user.id] }).then((c) => c.id)));
    const sockets = countingWebSocket();
    const connection = ann.connect({ ...fast, WebSocket: sockets.WebSocket });
    await connection.next("hello");
    const received = new Map(ids.slice(0, 2).map((id) => [id, [] as Sdk.Message[]]));
    const subscriptions = ids.slice(0, 2).map((id) => connection.subscribe(id, { afterSeq: 0 }));
    for (const subscription of subscriptions) subscription.on("message", (m) => received.get(subscription.conversationId)!.push(m));
    await Promise.all(subscriptions.map((s) => s.next("synced")));
    expect(connection.subscribe(ids[0]!)).toBe(subscriptions[0]);
    const notified: Sdk.Message[] = [];
    connection.on("notification.message", ({ message }) => notified.push(message));

    // Two people write at once, each to their subscribed conversation; the connection drops midway.
    await Promise.all(
      others.slice(0, 2).map(({ client }, n) =>
        (async () => {
          for (const i of range(1, 12)) {
            await client.sendMessage(ids[n]!, { content: `${n}:${i}` });
            if (n === 0 && i === 6) connection.dropConnection();
          }
        })(),
      ),
    );
    await waitFor("both subscriptions to catch up", () => subscriptions.every((s) => s.lastSeq === 12));
    subscriptions.forEach((subscription, n) => {
      const messages = received.get(subscription.conversationId)!;
      expect(messages.map((m) => m.seq)).toEqual(range(1, 12));
      expect(messages.map((m) => m.content)).toEqual(range(1, 12).map((i) => `${n}:${i}`));
    });
    // The conversation not subscribed to arrives as the inbox's notification, and only it does.
    await others[2].client.sendMessage(ids[2]!, { content: "not subscribed" });
    await waitFor("the notification", () => notified.length > 0);
    await sleep(200);
    expect(notified.map((m) => [m.conversation_id, m.content])).toEqual([[ids[2], "not subscribed"]]);

    // Sends go out on the same socket, each to its own conversation.
    const [first, second] = await Promise.all(subscriptions.map((s, n) => s.send(`from ann ${n}`)));
    expect([first!.conversation_id, second!.conversation_id, first!.sender_id]).toEqual([ids[0], ids[1], annUser.id]);
    expect(sockets.count()).toBe(2); // the first socket, and the one after the drop
    connection.close();
  });

  it("a subscription ends when the user is removed, or when it is refused; the connection carries on", async () => {
    const [{ client: owner }, { client: member, user: memberUser }, { client: stranger }] = await Promise.all([
      harness.login("owner"),
      harness.login("member"),
      harness.login("stranger"),
    ]);
    const group = await owner.createConversation({ type: "group", title: "club", participant_ids: [memberUser.id] });
    const direct = await owner.createConversation({ type: "direct", participant_ids: [memberUser.id] });
    const connection = member.connect(fast);
    const removedFrom = connection.subscribe(group.id);
    const staying = connection.subscribe(direct.id);
    await Promise.all([removedFrom.next("synced"), staying.next("synced")]);
    const ended = removedFrom.next("unsubscribed");
    await owner.removeParticipant(group.id, memberUser.id);
    expect(await ended).toEqual({ reason: "removed" });
    expect(removedFrom.isActive).toBe(false);
    expect(connection.subscriptions).toEqual([staying]);
    const after = staying.next("message");
    await owner.sendMessage(direct.id, { content: "still here" });
    expect((await after).content).toBe("still here");

    const strangers = stranger.connect(fast);
    const refused = await strangers.subscribe(direct.id).next("unsubscribed");
    expect(refused).toMatchObject({ reason: "refused", error: { code: "CHAT_ACCESS_DENIED" } });
    strangers.close();

    staying.unsubscribe();
    expect(connection.subscriptions).toEqual([]);
    const notified = connection.next("notification.message");
    await owner.sendMessage(direct.id, { content: "a notification again" });
    expect((await notified).message.content).toBe("a notification again");
    connection.close();
  });
});
