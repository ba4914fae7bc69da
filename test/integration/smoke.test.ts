import { describe, expect, it } from "vitest";
import { callJson, direct, login, sendRest } from "../helpers/api";
import { connect } from "../helpers/sockets";

describe("smoke", () => {
  it("health", async () => {
    const { status, body } = await callJson("/health");
    expect(status).toBe(200);
    expect(body).toEqual({ status: "ok" });
  });

  it("login, conversation, message over REST and socket", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const id = await direct(alice, bob);
    const socket = await connect(id, bob.token);
    const sent = await sendRest(alice, id, "hello bob");
    expect(sent.status).toBe(201);
    expect(sent.body.seq).toBe(1);
    const frame = await socket.next("message.new");
    expect(frame.message.content).toBe("hello bob");
    socket.send({ type: "message.send", client_id: "c1", content: "hi alice", ref: "r1" });
    const ack = await socket.next("message.ack");
    expect(ack.message.seq).toBe(2);
    expect(ack.ref).toBe("r1");
    const list = await callJson("/api/v1/conversations", { token: alice.token });
    expect(list.status).toBe(200);
    socket.close();
  });
});
