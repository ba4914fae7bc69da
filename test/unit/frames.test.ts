import { describe, expect, it } from "vitest";
import { parseClientFrame, type ParsedFrame } from "../../src/schemas/frames";
import { parseInboxFrame, withConversationId } from "../../src/schemas/inbox-frames";

function ok(raw: unknown) {
  const parsed = parseClientFrame(typeof raw === "string" ? raw : JSON.stringify(raw));
  if (!parsed.ok) throw new Error(`expected a valid frame, got ${parsed.message}`);
  return parsed.frame;
}

function bad(raw: unknown): Extract<ParsedFrame, { ok: false }> {
  const parsed = parseClientFrame(typeof raw === "string" ? raw : JSON.stringify(raw));
  if (parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.frame)}`);
  return parsed;
}

describe("parseClientFrame: valid frames", () => {
  it("message.send with defaults: message_type text, optional fields absent", () => {
    expect(ok({ type: "message.send", client_id: "c1", content: "hi" })).toEqual({
      type: "message.send",
      client_id: "c1",
      content: "hi",
      message_type: "text",
    });
  });

  it("message.send with every field", () => {
    const frame = ok({
      type: "message.send",
      ref: "r1",
      client_id: "  c2  ",
      content: "look",
      message_type: "product",
      data: { product_id: "p1" },
      reply_to: "msg_1",
    });
    expect(frame).toEqual({
      type: "message.send",
      ref: "r1",
      client_id: "c2",
      content: "look",
      message_type: "product",
      data: { product_id: "p1" },
      reply_to: "msg_1",
    });
  });

  it("typing.start, typing.stop, ping", () => {
    expect(ok({ type: "typing.start" })).toEqual({ type: "typing.start" });
    expect(ok({ type: "typing.stop", ref: 3 })).toEqual({ type: "typing.stop", ref: 3 });
    expect(ok({ type: "ping" })).toEqual({ type: "ping" });
    expect(ok({ type: "ping", ref: "x" })).toEqual({ type: "ping", ref: "x" });
  });

  it("read with and without up_to_seq", () => {
    expect(ok({ type: "read", up_to_seq: 7 })).toEqual({ type: "read", up_to_seq: 7 });
    expect(ok({ type: "read" })).toEqual({ type: "read" });
  });

  it("sync defaults after_seq to 0", () => {
    expect(ok({ type: "sync" })).toEqual({ type: "sync", after_seq: 0 });
    expect(ok({ type: "sync", after_seq: 42, ref: "s" })).toEqual({ type: "sync", after_seq: 42, ref: "s" });
  });
});

describe("parseClientFrame: refusals", () => {
  it("not JSON", () => {
    const r = bad("{not json");
    expect(r).toMatchObject({ ok: false, code: "VALIDATION_ERROR", ref: undefined });
    expect(r.message).toMatch(/JSON/);
  });

  it("JSON that is not an object: array, string, number, null", () => {
    for (const raw of ["[1,2]", '"ping"', "42", "null", '[{"type":"ping"}]']) {
      const r = bad(raw);
      expect(r.code).toBe("VALIDATION_ERROR");
      expect(r.ref).toBeUndefined();
      expect(r.message).toMatch(/object/);
    }
  });

  it("unknown or missing type, echoing the ref", () => {
    const unknown = bad({ type: "message.explode", ref: "u1" });
    expect(unknown).toMatchObject({ code: "VALIDATION_ERROR", ref: "u1" });
    expect(unknown.message).toContain("message.explode");
    const missing = bad({ ref: 9 });
    expect(missing).toMatchObject({ code: "VALIDATION_ERROR", ref: 9 });
    expect(missing.message).toMatch(/unknown frame type/);
  });

  it("missing or invalid fields name the field and echo numeric and string refs", () => {
    const noClientId = bad({ type: "message.send", ref: 7, content: "x" });
    expect(noClientId).toMatchObject({ code: "VALIDATION_ERROR", ref: 7 });
    expect(noClientId.message).toContain("client_id");

    // Content may be absent at the frame level (an attachment can stand alone); the
    // conversation refuses empty content without an attachment.
    const wrongContent = bad({ type: "message.send", ref: "s-1", client_id: "c", content: 42 });
    expect(wrongContent).toMatchObject({ code: "VALIDATION_ERROR", ref: "s-1" });
    expect(wrongContent.message).toContain("content");

    const blankClientId = bad({ type: "message.send", client_id: "   ", content: "x" });
    expect(blankClientId.message).toContain("client_id");

    const badType = bad({ type: "message.send", client_id: "c", content: "x", message_type: "offer" });
    expect(badType.message).toContain("message_type");

    const negativeSeq = bad({ type: "sync", after_seq: -1, ref: 0 });
    expect(negativeSeq).toMatchObject({ code: "VALIDATION_ERROR", ref: 0 });
    expect(negativeSeq.message).toContain("after_seq");

    const fractional = bad({ type: "read", up_to_seq: 1.5 });
    expect(fractional.message).toContain("up_to_seq");
  });

  it("a ref that is neither string nor number is not echoed", () => {
    const r = bad({ type: "nope", ref: { nested: true } });
    expect(r.ref).toBeUndefined();
    const r2 = bad({ type: "message.send", ref: null, content: "x" });
    expect(r2.ref).toBeUndefined();
  });
});

describe("parseClientFrame: unknown fields and plain messages", () => {
  it("a field the frame type does not know is refused, each one named in details", () => {
    const r = bad({ type: "message.send", ref: "u", client_id: "c", content: "hi", conversation: "x", colour: 1 });
    expect(r).toMatchObject({ code: "VALIDATION_ERROR", ref: "u" });
    expect(r.details).toEqual(
      expect.arrayContaining([
        { field: "conversation", message: "is not a known field" },
        { field: "colour", message: "is not a known field" },
      ]),
    );
    expect(bad({ type: "typing.start", user_id: "me" }).details).toEqual([{ field: "user_id", message: "is not a known field" }]);
    expect(bad({ type: "ping", pad: "" }).details).toEqual([{ field: "pad", message: "is not a known field" }]);
  });

  it("data stays free-form", () => {
    expect(ok({ type: "message.send", client_id: "c", content: "hi", data: { anything: { goes: [1] } } })).toMatchObject({ data: { anything: { goes: [1] } } });
  });

  it("messages are plain words: required, types, choices", () => {
    expect(bad({ type: "message.send", content: "x" }).details).toEqual([{ field: "client_id", message: "is required" }]);
    expect(bad({ type: "read", up_to_seq: "3" }).details).toEqual([{ field: "up_to_seq", message: "must be a number" }]);
    expect(bad({ type: "offer.respond", offer_id: "o", action: "maybe" }).details).toEqual([{ field: "action", message: "must be one of: accept, reject, counter, withdraw" }]);
    expect(bad({ type: "ping", ref: true }).details).toEqual([{ field: "ref", message: "must be text or a number" }]);
    expect(bad({ type: "nope" }).details).toEqual([{ field: "type", message: expect.stringMatching(/^must be one of: message\.send, .*ping$/) }]);
    expect(bad("{").details).toEqual([{ field: "frame", message: "frame is not valid JSON" }]);
  });

  it("binary frames are refused by the parser", () => {
    const parsed = parseClientFrame(new ArrayBuffer(3));
    expect(parsed).toMatchObject({ ok: false, code: "VALIDATION_ERROR", details: [{ field: "frame", message: "must be a text frame" }] });
  });
});

describe("parseInboxFrame", () => {
  it("takes ping, subscriptions and every conversation command with its conversation_id, strictly", () => {
    expect(parseInboxFrame(JSON.stringify({ type: "ping", ref: 4 }))).toEqual({ ok: true, frame: { type: "ping", ref: 4 } });
    expect(parseInboxFrame(JSON.stringify({ type: "ping", ref: 4, extra: 1 }))).toMatchObject({ ok: false, ref: 4, details: [{ field: "extra", message: "is not a known field" }] });
    expect(parseInboxFrame(JSON.stringify({ type: "subscribe", conversation_id: "c1", after_seq: 3 }))).toEqual({ ok: true, frame: { type: "subscribe", conversation_id: "c1", after_seq: 3 } });
    expect(parseInboxFrame(JSON.stringify({ type: "typing.start", conversation_id: "c1" }))).toEqual({ ok: true, frame: { type: "typing.start", conversation_id: "c1" } });
    expect(parseInboxFrame(JSON.stringify({ type: "typing.start", conversation_id: "c1", other: 1 }))).toMatchObject({ ok: false, details: [{ field: "other", message: "is not a known field" }] });
    expect(parseInboxFrame(JSON.stringify({ type: "message.send", client_id: "c", content: "hi" }))).toMatchObject({ ok: false, details: [{ field: "conversation_id" }] });
    expect(parseInboxFrame(JSON.stringify({ type: "unsubscribe" }))).toMatchObject({ ok: false, details: [{ field: "conversation_id" }] });
  });

  it("a relayed frame is the same frame with conversation_id added", () => {
    const frame = JSON.stringify({ type: "typing", user_id: "u1", is_typing: true });
    expect(JSON.parse(withConversationId(frame, "c1"))).toEqual({ conversation_id: "c1", type: "typing", user_id: "u1", is_typing: true });
  });
});
