// The SDK where the platform has fetch but no WebSocket (Node 20): with the global WebSocket
// hidden, opening a socket without a WebSocket class fails with an error that says what to do,
// and with the `ws` package's class passed in (per client, or per socket) the one connection and
// a conversation socket carry messages both ways against a real `wrangler dev`.
import { WebSocket as WsWebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fast, inWorkerd, startHarness, type Harness } from "./harness.ts";

/** The `ws` class, counting the sockets made with it (proof that the SDK used it). */
class CountedWs extends WsWebSocket {
  static made = 0;
  constructor(url: string) {
    super(url);
    CountedWs.made++;
  }
}

describe.skipIf(inWorkerd)("the SDK without a global WebSocket (Node 20), against wrangler dev", () => {
  let harness: Harness;
  const hidden = Object.getOwnPropertyDescriptor(globalThis, "WebSocket");

  beforeAll(async () => {
    harness = await startHarness();
    delete (globalThis as { WebSocket?: unknown }).WebSocket;
  });

  afterAll(async () => {
    if (hidden) Object.defineProperty(globalThis, "WebSocket", hidden);
    await harness?.stop();
  });

  it("without a WebSocket class, opening a socket throws an error naming the option and `ws`", async () => {
    expect(typeof (globalThis as { WebSocket?: unknown }).WebSocket).toBe("undefined");
    const { alice, conversation } = await harness.pair();
    const advice = /no global WebSocket.*"ws".*WebSocket/;
    expect(() => alice.connect()).toThrow(advice);
    expect(() => alice.conversationSocket(conversation.id)).toThrow(advice);
    expect(() => alice.inboxSocket()).toThrow(advice);
  });

  it("with `ws` passed in, the one connection and a conversation socket send and receive", async () => {
    const { alice, bob, conversation } = await harness.pair();
    const made = CountedWs.made;
    // Alice passes the class to connect(); Bob's client carries it for every socket it opens.
    const connection = alice.connect({ ...fast, WebSocket: CountedWs });
    const bobClient = new harness.sdk.ChatClient({ baseUrl: harness.server.url, token: (await bob.getToken())!, WebSocket: CountedWs });
    const bobSocket = bobClient.conversationSocket(conversation.id, fast);
    const aliceChat = connection.subscribe(conversation.id, { afterSeq: 0 });
    await Promise.all([aliceChat.next("synced"), bobSocket.next("synced")]);

    const toBob = bobSocket.next("message");
    await aliceChat.send("hello from Node 20");
    expect((await toBob).content).toBe("hello from Node 20");
    const toAlice = aliceChat.next("message", (m) => m.content === "hello back");
    await bobSocket.send("hello back");
    expect((await toAlice).content).toBe("hello back");
    expect(CountedWs.made - made).toBe(2);

    connection.close();
    bobSocket.close();
  });
});
