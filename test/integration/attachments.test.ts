import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, callJson, callWith, freshDirect, listMessages, login, sendRest, type TestUser } from "../helpers/api";
import { expectError } from "../helpers/assertions";
import { bytes as concat, u32le } from "../helpers/bytes";
import { m4a, OGG, oggOpus, wav } from "../helpers/uploads";
import { connect } from "../helpers/sockets";
import { eventually } from "../helpers/wait";

// Storage is shared by the tests of this file: a few users are made once, and every test gets
// its own conversation (a direct conversation per unique context), so each has a fresh
// Durable Object, fresh upload buckets and its own R2 prefix.

let alice: TestUser;
let bob: TestUser;
let eve: TestUser;

beforeAll(async () => {
  alice = await login("alice");
  bob = await login("bob");
  eve = await login("eve");
});

const fresh = (a: TestUser = alice, b: TestUser = bob) => freshDirect(a, b, "attachments");

// ── files as bytes ──

const enc = new TextEncoder();

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/** A real 1×1 RGBA PNG. */
const PNG = fromBase64("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==");

/** A PNG signature padded with bytes to exactly `size`. */
function paddedPng(size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(PNG.subarray(0, Math.min(PNG.byteLength, size)));
  for (let i = PNG.byteLength; i < size; i++) out[i] = i % 251;
  return out;
}

const PDF = enc.encode("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
const JPEG = concat([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], "JFIF", [0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00], [0xff, 0xd9]);
const GIF = concat("GIF89a", [0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0x00, 0x3b]);
const WEBP = concat("RIFF", u32le(26), "WEBP", "VP8L", u32le(14), [0x2f, 0, 0, 0, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00]);
const MP3 = concat("ID3", [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], [0xff, 0xfb, 0x90, 0x64], new Uint8Array(60));
const M4A = concat([0, 0, 0, 0x20], "ftyp", "M4A ", [0, 0, 0, 0], "M4A mp42isom", [0, 0, 0, 0], [0, 0, 0, 8], "free");
const HTML = enc.encode("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>");

// ── calls ──

function form(field: string, bytes: Uint8Array, name: string, type: string, extra: Record<string, string> = {}): FormData {
  const fd = new FormData();
  fd.append(field, new File([bytes], name, { type }));
  for (const [k, v] of Object.entries(extra)) fd.append(k, v);
  return fd;
}

function uploadForm(user: TestUser, conversationId: string, body: BodyInit, headers?: HeadersInit) {
  return callJson(`/api/v1/conversations/${conversationId}/attachments`, { method: "POST", token: user.token, body, headers });
}

function upload(user: TestUser, conversationId: string, bytes: Uint8Array, name: string, type = "application/octet-stream", extra: Record<string, string> = {}) {
  return uploadForm(user, conversationId, form("file", bytes, name, type, extra));
}

async function uploaded(user: TestUser, conversationId: string, bytes: Uint8Array, name: string, type?: string, extra?: Record<string, string>) {
  const res = await upload(user, conversationId, bytes, name, type, extra);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; name: string; size: number; content_type: string; kind: string; url: string; duration: number | null; uploader_id: string; created_at: string };
}

function voiceNote(user: TestUser, conversationId: string, bytes: Uint8Array, name: string, extra: Record<string, string> = {}) {
  return callJson(`/api/v1/conversations/${conversationId}/voice-notes`, { method: "POST", token: user.token, body: form("voice_note", bytes, name, "audio/whatever", extra) });
}

async function download(path: string, init: RequestInit & { token?: string } = {}) {
  const response = await call(path, init);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes, response };
}

function uploadRequest(user: TestUser, conversationId: string, body: BodyInit, headers: Record<string, string> = {}): Request {
  return new Request(`${BASE}/api/v1/conversations/${conversationId}/attachments`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, ...headers },
    body,
  });
}

// ── assertions ──

async function r2Keys(conversationId: string): Promise<string[]> {
  const listed = await env.BUCKET.list({ prefix: `conversations/${conversationId}/` });
  return listed.objects.map((o) => o.key);
}

async function d1Count(conversationId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM attachments WHERE conversation_id = ?").bind(conversationId).first<{ n: number }>();
  return row!.n;
}

async function expectNothingStored(conversationId: string): Promise<void> {
  expect(await r2Keys(conversationId)).toEqual([]);
  expect(await d1Count(conversationId)).toBe(0);
}

// ── tests ──

describe("upload", () => {
  it("stores a PNG and answers 201 with its metadata, in R2 and D1", async () => {
    const id = await fresh();
    const body = await uploaded(alice, id, PNG, "pixel.png", "image/png");
    expect(body).toEqual({
      id: expect.any(String),
      name: "pixel.png",
      size: PNG.byteLength,
      content_type: "image/png",
      kind: "image",
      url: `/api/v1/attachments/${body.id}`,
      duration: null,
      uploader_id: alice.id,
      created_at: expect.any(String),
    });
    expect(new Date(body.created_at).toISOString()).toBe(body.created_at);

    expect(await r2Keys(id)).toEqual([`conversations/${id}/${body.id}`]);
    const object = await env.BUCKET.get(`conversations/${id}/${body.id}`);
    expect(new Uint8Array(await object!.arrayBuffer())).toEqual(PNG);
    expect(object!.httpMetadata?.contentType).toBe("image/png");

    const row = await env.DB.prepare("SELECT * FROM attachments WHERE id = ?").bind(body.id).first<Record<string, unknown>>();
    expect(row).toMatchObject({
      conversation_id: id,
      uploader_id: alice.id,
      r2_key: `conversations/${id}/${body.id}`,
      name: "pixel.png",
      size: PNG.byteLength,
      content_type: "image/png",
      kind: "image",
      duration_ms: null,
      deleted_at: null,
    });
  });

  it("decides the content type from the bytes, never from the client's type or name; the name's extension follows it", async () => {
    const id = await fresh();
    const cases: [Uint8Array, string, string, string, string, string][] = [
      [PNG, "photo.jpg", "image/jpeg", "image/png", "image", "photo.png"],
      [JPEG, "x.bin", "application/octet-stream", "image/jpeg", "image", "x.jpg"],
      [GIF, "anim.png", "text/html", "image/gif", "image", "anim.gif"],
      [WEBP, "pic", "", "image/webp", "image", "pic.webp"],
      [OGG, "voice.mp3", "audio/mpeg", "audio/ogg", "audio", "voice.ogg"],
      [MP3, "song.wav", "audio/wav", "audio/mpeg", "audio", "song.mp3"],
      [M4A, "memo.txt", "text/plain", "audio/mp4", "audio", "memo.m4a"],
      [wav(), "rec.ogg", "audio/ogg", "audio/wav", "audio", "rec.wav"],
      [PDF, "doc.png", "image/png", "application/pdf", "document", "doc.pdf"],
    ];
    for (const [bytes, name, type, contentType, kind, stored] of cases) {
      const body = await uploaded(alice, id, bytes, name, type);
      expect({ name: body.name, size: body.size, content_type: body.content_type, kind: body.kind }).toEqual({ name: stored, size: bytes.byteLength, content_type: contentType, kind });
    }
    expect(await d1Count(id)).toBe(cases.length);
    expect((await r2Keys(id)).length).toBe(cases.length);
  });

  it("keeps a duration for audio and ignores it for other kinds", async () => {
    const id = await fresh();
    const audio = await uploaded(alice, id, wav(), "a.wav", "audio/wav", { duration: "2.25" });
    expect(audio.duration).toBe(2.25);
    const image = await uploaded(alice, id, PNG, "a.png", "image/png", { duration: "2.25" });
    expect(image.duration).toBeNull();
    const row = await env.DB.prepare("SELECT duration_ms FROM attachments WHERE id = ?").bind(audio.id).first<{ duration_ms: number }>();
    expect(row!.duration_ms).toBe(2250);
  });

  it("cleans path components out of the file name", async () => {
    const id = await fresh();
    const body = await uploaded(alice, id, PNG, "../../etc/x.png", "image/png");
    expect(body.name).toBe("x.png");
  });
});

describe("download: byte-for-byte round trips and headers", () => {
  const cases: [string, () => Uint8Array, string, string, boolean][] = [
    ["PNG", () => PNG, "pixel.png", "image/png", false],
    ["WAV", () => wav(200), "note.wav", "audio/wav", false],
    ["PDF", () => PDF, "report.pdf", "application/pdf", true],
  ];
  for (const [label, make, name, contentType, asAttachment] of cases) {
    it(`returns the ${label} as uploaded, with the header and with ?token=`, async () => {
      const id = await fresh();
      const bytes = make();
      const body = await uploaded(alice, id, bytes, name, "application/octet-stream");

      const viaHeader = await download(body.url, { token: bob.token });
      expect(viaHeader.status).toBe(200);
      expect(viaHeader.bytes).toEqual(bytes);
      expect(viaHeader.headers.get("content-type")).toBe(contentType);
      expect(viaHeader.headers.get("x-content-type-options")).toBe("nosniff");
      expect(viaHeader.headers.get("cache-control")).toContain("private");
      expect(viaHeader.headers.get("content-length")).toBe(String(bytes.byteLength));
      const disposition = viaHeader.headers.get("content-disposition") ?? "";
      if (asAttachment) expect(disposition.startsWith("attachment")).toBe(true);
      else expect(disposition.startsWith("attachment")).toBe(false);
      expect(disposition).toContain(encodeURIComponent(name));

      const viaQuery = await download(`${body.url}?token=${encodeURIComponent(alice.token)}`);
      expect(viaQuery.status).toBe(200);
      expect(viaQuery.bytes).toEqual(bytes);
      expect(viaQuery.headers.get("content-type")).toBe(contentType);
    });
  }

  it("offers the file for saving under a name ending in the sniffed type's extension, without control or bidi characters", async () => {
    const id = await fresh();
    const dispositionOf = async (url: string) => (await download(url, { token: bob.token })).headers.get("content-disposition");
    const cases: [Uint8Array, string, string, string][] = [
      [PDF, "report.html", "report.pdf", "attachment"],
      [GIF, "pic.exe", "pic.gif", "inline"],
      // "invoice<RLO>fdp.exe" displays as "invoiceexe.pdf"; C0 and C1 controls and isolates go too.
      [PDF, "invoice\u202efdp.exe", "invoicefdp.pdf", "attachment"],
      [PNG, "\u2066a\u0085b\u0007c\u2069\u200f.png", "abc.png", "inline"],
    ];
    for (const [bytes, name, saved, disposition] of cases) {
      const body = await uploaded(alice, id, bytes, name, "application/octet-stream");
      expect(body.name, JSON.stringify(name)).toBe(saved);
      expect(await dispositionOf(body.url)).toBe(`${disposition}; filename*=UTF-8''${encodeURIComponent(saved)}`);
      const message = await sendRest(alice, id, "", { attachment_id: body.id });
      expect(message.body.attachment.name).toBe(saved);
    }
  });

  it("cleans a name stored before names followed the type when it is downloaded", async () => {
    const id = await fresh();
    const body = await uploaded(alice, id, PDF, "report.pdf", "application/pdf");
    await env.DB.prepare("UPDATE attachments SET name = ? WHERE id = ?").bind("old\u202efdp.html", body.id).run();
    const res = await download(body.url, { token: alice.token });
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename*=UTF-8''${encodeURIComponent("oldfdp.pdf")}`);
  });

  it("serves disguised HTML-ish names safely: an image named .html is still image/png", async () => {
    const id = await fresh();
    const body = await uploaded(alice, id, PNG, "evil.html", "text/html");
    const res = await download(body.url, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("refusals leave nothing behind", () => {
  it("refuses HTML renamed .png with type image/png: 415", async () => {
    const id = await fresh();
    const res = await upload(alice, id, HTML, "cat.png", "image/png");
    expectError(res, 415, "UNSUPPORTED_FILE_TYPE");
    await expectNothingStored(id);
  });

  it("refuses a text file: 415", async () => {
    const id = await fresh();
    const res = await upload(alice, id, enc.encode("just some notes\nline two\n"), "notes.txt", "text/plain");
    expectError(res, 415, "UNSUPPORTED_FILE_TYPE");
    await expectNothingStored(id);
  });

  it("refuses a body without a file field: 400 naming file", async () => {
    const id = await fresh();
    const fd = new FormData();
    fd.append("other", new File([PNG], "pixel.png", { type: "image/png" }));
    fd.append("duration", "1");
    expectError(await uploadForm(alice, id, fd), 400, "VALIDATION_ERROR", "file");
    const textOnly = new FormData();
    textOnly.append("file", "not a file, just a string");
    expectError(await uploadForm(alice, id, textOnly), 400, "VALIDATION_ERROR", "file");
    await expectNothingStored(id);
  });

  it("refuses a body that is not multipart: 400", async () => {
    const id = await fresh();
    const json = await callJson(`/api/v1/conversations/${id}/attachments`, { method: "POST", token: alice.token, json: { file: "iVBORw0KGgo=" } });
    expectError(json, 400, "VALIDATION_ERROR");
    const raw = await uploadForm(alice, id, PNG, { "content-type": "image/png" });
    expectError(raw, 400, "VALIDATION_ERROR");
    await expectNothingStored(id);
  });

  it("refuses a malformed multipart body: 400", async () => {
    const id = await fresh();
    const res = await uploadForm(alice, id, "this is not multipart at all", { "content-type": "multipart/form-data; boundary=xyz" });
    expectError(res, 400, "VALIDATION_ERROR");
    await expectNothingStored(id);
  });

  it("refuses an empty file: 400 naming file", async () => {
    const id = await fresh();
    const res = await upload(alice, id, new Uint8Array(0), "empty.png", "image/png");
    expectError(res, 400, "VALIDATION_ERROR", "file");
    await expectNothingStored(id);
  });

  it("refuses an out-of-range duration: 400 naming duration", async () => {
    const id = await fresh();
    expectError(await upload(alice, id, wav(), "a.wav", "audio/wav", { duration: "-1" }), 400, "VALIDATION_ERROR", "duration");
    expectError(await upload(alice, id, wav(), "a.wav", "audio/wav", { duration: "abc" }), 400, "VALIDATION_ERROR", "duration");
    await expectNothingStored(id);
  });
});

describe("size limits", () => {
  it("accepts a file of exactly MAX_UPLOAD_BYTES and refuses one byte more with 413, storing nothing", async () => {
    const id = await fresh();
    const limit = { MAX_UPLOAD_BYTES: "1024" };

    const tooBig = await callWith(limit, uploadRequest(alice, id, form("file", paddedPng(1025), "big.png", "image/png")));
    expectError(tooBig, 413, "FILE_TOO_LARGE");
    await expectNothingStored(id);

    const exact = await callWith(limit, uploadRequest(alice, id, form("file", paddedPng(1024), "exact.png", "image/png")));
    expect(exact.status, exact.text).toBe(201);
    expect(exact.body).toMatchObject({ size: 1024, content_type: "image/png", kind: "image" });
    expect(await d1Count(id)).toBe(1);
    expect(await r2Keys(id)).toEqual([`conversations/${id}/${exact.body.id}`]);
  });

  it("refuses a body far over the limit, also for voice notes", async () => {
    const id = await fresh();
    const limit = { MAX_UPLOAD_BYTES: "1024" };
    const big = await callWith(limit, uploadRequest(alice, id, form("file", paddedPng(64 * 1024), "huge.png", "image/png")));
    expectError(big, 413, "FILE_TOO_LARGE");
    const voice = await callWith(
      limit,
      new Request(`${BASE}/api/v1/conversations/${id}/voice-notes`, {
        method: "POST",
        headers: { authorization: `Bearer ${alice.token}` },
        body: form("voice_note", wav(2000), "long.wav", "audio/wav", { duration: "1" }),
      }),
    );
    expectError(voice, 413, "FILE_TOO_LARGE");
    await expectNothingStored(id);
    const messages = await listMessages(alice, id);
    expect(messages.body.messages).toEqual([]);
  });

  it("refuses a huge declared Content-Length before reading the body", async () => {
    const id = await fresh();
    const boundary = "----edgechatboundary";
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n`;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(concat(head, PNG, `\r\n--${boundary}--\r\n`));
        controller.close();
      },
    });
    const request = new Request(`${BASE}/api/v1/conversations/${id}/attachments`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${alice.token}`,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(50 * 1024 * 1024 * 1024),
      },
      body: stream,
    });
    const res = await callWith({}, request);
    expectError(res, 413, "FILE_TOO_LARGE");
    await expectNothingStored(id);
  });

  it("caps JSON bodies elsewhere at the JSON limit, but not uploads under MAX_UPLOAD_BYTES", async () => {
    const id = await fresh();
    const bigJson = await callJson(`/api/v1/conversations/${id}/messages`, {
      method: "POST",
      token: alice.token,
      json: { content: "hi", data: { blob: "x".repeat(300 * 1024) } },
    });
    expectError(bigJson, 413, "PAYLOAD_TOO_LARGE");

    const bytes = paddedPng(300 * 1024);
    const body = await uploaded(alice, id, bytes, "large.png", "image/png");
    expect(body.size).toBe(300 * 1024);
    const back = await download(body.url, { token: alice.token });
    expect(back.status).toBe(200);
    expect(back.bytes).toEqual(bytes);
  });
});

describe("access", () => {
  it("refuses an outsider's upload with 403 CHAT_ACCESS_DENIED, storing nothing", async () => {
    const id = await fresh();
    expectError(await upload(eve, id, PNG, "p.png", "image/png"), 403, "CHAT_ACCESS_DENIED");
    expectError(await voiceNote(eve, id, wav(), "v.wav", { duration: "1" }), 403, "CHAT_ACCESS_DENIED");
    await expectNothingStored(id);
  });

  it("refuses an upload to a conversation that does not exist with the same 403", async () => {
    expectError(await upload(alice, "conv_does_not_exist", PNG, "p.png", "image/png"), 403, "CHAT_ACCESS_DENIED");
  });

  it("refuses uploads without a token: 401", async () => {
    const id = await fresh();
    const res = await callJson(`/api/v1/conversations/${id}/attachments`, { method: "POST", body: form("file", PNG, "p.png", "image/png") });
    expectError(res, 401, "AUTHENTICATION_REQUIRED");
    await expectNothingStored(id);
  });

  it("refuses an outsider's download with 403, no token with 401, and an unknown id with 404", async () => {
    const id = await fresh();
    const body = await uploaded(alice, id, PNG, "p.png", "image/png");

    const outsider = await callJson(body.url, { token: eve.token });
    expectError(outsider, 403, "CHAT_ACCESS_DENIED");
    const outsiderQuery = await callJson(`${body.url}?token=${encodeURIComponent(eve.token)}`);
    expectError(outsiderQuery, 403, "CHAT_ACCESS_DENIED");

    expectError(await callJson(body.url), 401, "AUTHENTICATION_REQUIRED");
    expectError(await callJson(`${body.url}?token=not.a.jwt`), 401, "INVALID_TOKEN");

    expectError(await callJson("/api/v1/attachments/att_nope_does_not_exist", { token: alice.token }), 404, "NOT_FOUND");
  });
});

describe("Range requests on audio", () => {
  it("answers 206 with exactly the requested bytes, and 416 when unsatisfiable", async () => {
    const id = await fresh();
    const bytes = wav(100);
    const size = bytes.byteLength;
    expect(size).toBe(144);
    const body = await uploaded(alice, id, bytes, "r.wav", "audio/wav");

    const whole = await download(body.url, { token: alice.token });
    expect(whole.status).toBe(200);
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    expect(whole.bytes).toEqual(bytes);

    const first = await download(body.url, { token: alice.token, headers: { range: "bytes=0-9" } });
    expect(first.status).toBe(206);
    expect(first.headers.get("content-range")).toBe(`bytes 0-9/${size}`);
    expect(first.headers.get("content-length")).toBe("10");
    expect(first.headers.get("accept-ranges")).toBe("bytes");
    expect(first.headers.get("content-type")).toBe("audio/wav");
    expect(first.bytes).toEqual(bytes.slice(0, 10));

    const open = await download(body.url, { token: alice.token, headers: { range: "bytes=10-" } });
    expect(open.status).toBe(206);
    expect(open.headers.get("content-range")).toBe(`bytes 10-${size - 1}/${size}`);
    expect(open.bytes).toEqual(bytes.slice(10));

    const suffix = await download(body.url, { token: alice.token, headers: { range: "bytes=-5" } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe(`bytes ${size - 5}-${size - 1}/${size}`);
    expect(suffix.bytes).toEqual(bytes.slice(size - 5));

    const middle = await download(body.url, { token: alice.token, headers: { range: "bytes=40-49" } });
    expect(middle.status).toBe(206);
    expect(middle.bytes).toEqual(bytes.slice(40, 50));

    const clamped = await download(body.url, { token: alice.token, headers: { range: `bytes=140-${size + 1000}` } });
    expect(clamped.status).toBe(206);
    expect(clamped.headers.get("content-range")).toBe(`bytes 140-${size - 1}/${size}`);
    expect(clamped.bytes).toEqual(bytes.slice(140));

    const beyond = await download(body.url, { token: alice.token, headers: { range: `bytes=${size}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${size}`);
    expect(beyond.bytes.byteLength).toBe(0);
  });

  it("works with ?token= too (an <audio> element cannot send headers)", async () => {
    const id = await fresh();
    const bytes = wav(50);
    const body = await uploaded(alice, id, bytes, "r.wav", "audio/wav");
    const res = await download(`${body.url}?token=${encodeURIComponent(bob.token)}`, { headers: { range: "bytes=4-7" } });
    expect(res.status).toBe(206);
    expect(res.bytes).toEqual(bytes.slice(4, 8));
  });

  it("ignores Range on an image: 200 with the full body", async () => {
    const id = await fresh();
    const body = await uploaded(alice, id, PNG, "p.png", "image/png");
    const res = await download(body.url, { token: alice.token, headers: { range: "bytes=0-9" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-range")).toBeNull();
    expect(res.bytes).toEqual(PNG);
  });
});

describe("messages with attachments", () => {
  it("sends an upload as a message whose type follows its kind", async () => {
    const id = await fresh();
    const cases: [Uint8Array, string, string][] = [
      [PNG, "p.png", "image"],
      [PDF, "d.pdf", "file"],
      [wav(), "v.wav", "voice"],
      [OGG, "v.ogg", "voice"],
    ];
    const sent: { id: string; attachmentId: string }[] = [];
    for (const [bytes, name, type] of cases) {
      const att = await uploaded(alice, id, bytes, name);
      const res = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ conversation_id: id, sender_id: alice.id, type, content: "", deleted_at: null });
      expect(res.body.attachment).toEqual(att);
      sent.push({ id: res.body.id, attachmentId: att.id });
    }
    const seen = await listMessages(bob, id);
    expect(seen.status).toBe(200);
    expect(seen.body.messages.map((m: any) => [m.id, m.type, m.attachment?.id])).toEqual(sent.map((s, i) => [s.id, cases[i]![2], s.attachmentId]));
  });

  it("keeps a caption with the attachment", async () => {
    const id = await fresh();
    const att = await uploaded(alice, id, PNG, "p.png");
    const res = await sendRest(alice, id, "  look at this  ", { attachment_id: att.id });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: "image", content: "look at this" });
    expect(res.body.attachment).toEqual(att);
  });

  it("refuses reusing an attachment, someone else's, and one from another conversation", async () => {
    const id = await fresh();
    const other = await fresh(alice, eve);

    const att = await uploaded(alice, id, PNG, "p.png");
    const first = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id } });
    expect(first.status).toBe(201);
    const again = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id } });
    expectError(again, 400, "VALIDATION_ERROR", "attachment_id");

    const alices = await uploaded(alice, id, PDF, "d.pdf");
    const stolen = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: bob.token, json: { attachment_id: alices.id } });
    expectError(stolen, 400, "VALIDATION_ERROR", "attachment_id");

    const elsewhere = await uploaded(alice, other, PNG, "p.png");
    const crossed = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: elsewhere.id } });
    expectError(crossed, 400, "VALIDATION_ERROR", "attachment_id");

    const unknown = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: "att_unknown" } });
    expectError(unknown, 400, "VALIDATION_ERROR", "attachment_id");

    const seen = await listMessages(alice, id);
    expect(seen.body.messages.map((m: any) => m.id)).toEqual([first.body.id]);
    // The refused ones are still usable by their owners where they belong.
    const later = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: alices.id } });
    expect(later.status).toBe(201);
    expect(later.body.type).toBe("file");
  });

  it("refuses a type that contradicts the attachment, and image/file/voice without one", async () => {
    const id = await fresh();
    const att = await uploaded(alice, id, PNG, "p.png");
    expectError(await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id, type: "voice" } }), 400, "VALIDATION_ERROR", "type");
    expectError(await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { content: "hi", type: "image" } }), 400, "VALIDATION_ERROR", "attachment_id");
    const ok = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id, type: "image" } });
    expect(ok.status).toBe(201);
    expect(ok.body.attachment.id).toBe(att.id);
  });

  it("sends an attachment over the socket, and refuses reusing it there", async () => {
    const id = await fresh();
    const att = await uploaded(alice, id, PNG, "p.png");
    const pdf = await uploaded(alice, id, PDF, "d.pdf");
    const aliceSocket = await connect(id, alice.token);
    const bobSocket = await connect(id, bob.token);
    try {
      aliceSocket.send({ type: "message.send", ref: "r1", client_id: "c-img", attachment_id: att.id });
      const ack = await aliceSocket.next("message.ack", (f) => f.client_id === "c-img");
      expect(ack.ref).toBe("r1");
      expect(ack.message).toMatchObject({ type: "image", content: "", sender_id: alice.id, client_id: "c-img" });
      expect(ack.message.attachment).toEqual(att);
      const seen = await bobSocket.next("message.new", (f) => f.message.id === ack.message.id);
      expect(seen.message.attachment).toEqual(att);

      aliceSocket.send({ type: "message.send", ref: "r2", client_id: "c-img-2", attachment_id: att.id });
      const error = await aliceSocket.next("error", (f) => f.ref === "r2");
      expect(error.code).toBe("VALIDATION_ERROR");

      bobSocket.send({ type: "message.send", ref: "r3", client_id: "c-steal", attachment_id: pdf.id });
      const stolen = await bobSocket.next("error", (f) => f.ref === "r3");
      expect(stolen.code).toBe("VALIDATION_ERROR");

      aliceSocket.send({ type: "message.send", ref: "r4", client_id: "c-pdf", attachment_id: pdf.id });
      const pdfAck = await aliceSocket.next("message.ack", (f) => f.client_id === "c-pdf");
      expect(pdfAck.message.type).toBe("file");
      expect(pdfAck.message.attachment).toEqual(pdf);
    } finally {
      aliceSocket.close();
      bobSocket.close();
    }
    const seen = await listMessages(bob, id);
    expect(seen.body.messages.map((m: any) => [m.type, m.attachment?.id])).toEqual([
      ["image", att.id],
      ["file", pdf.id],
    ]);
  });
});

describe("voice notes", () => {
  it("uploads and sends a WAV voice note in one step", async () => {
    const id = await fresh();
    const bytes = wav(300);
    const res = await voiceNote(alice, id, bytes, "memo.wav", { duration: "3.5" });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ conversation_id: id, sender_id: alice.id, type: "voice", content: "", seq: 1 });
    expect(res.body.attachment).toMatchObject({
      name: "memo.wav",
      size: bytes.byteLength,
      content_type: "audio/wav",
      kind: "audio",
      duration: 3.5,
      uploader_id: alice.id,
      url: `/api/v1/attachments/${res.body.attachment.id}`,
    });
    const back = await download(res.body.attachment.url, { token: bob.token });
    expect(back.status).toBe(200);
    expect(back.bytes).toEqual(bytes);
    const row = await env.DB.prepare("SELECT duration_ms, kind FROM attachments WHERE id = ?").bind(res.body.attachment.id).first();
    expect(row).toEqual({ duration_ms: 3500, kind: "audio" });
    const seen = await listMessages(bob, id);
    expect(seen.body.messages).toHaveLength(1);
    expect(seen.body.messages[0].attachment).toEqual(res.body.attachment);
  });

  it("accepts an OGG voice note with a caption and a client_id, idempotently", async () => {
    const id = await fresh();
    const first = await voiceNote(alice, id, OGG, "v.ogg", { duration: "12", content: "listen", client_id: "vn-1" });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ type: "voice", content: "listen", client_id: "vn-1" });
    expect(first.body.attachment).toMatchObject({ content_type: "audio/ogg", kind: "audio", duration: 12 });
    const again = await voiceNote(alice, id, OGG, "v.ogg", { duration: "12", content: "listen", client_id: "vn-1" });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const seen = await listMessages(alice, id);
    expect(seen.body.messages.map((m: any) => m.id)).toEqual([first.body.id]);
  });

  it("reads the duration from the audio when none is given: WAV, M4A and Ogg Opus; null where the file does not say for sure", async () => {
    const id = await fresh();
    const cases: [Uint8Array, string, number | null][] = [
      [wav(12_000), "v.wav", 1.5],
      [m4a(90_000, 48_000), "v.m4a", 1.875],
      [oggOpus([48_312, 120_312]), "v.ogg", 2.5],
      [MP3, "v.mp3", null], // MP3 does not write its length down
      [OGG, "v.ogg", null], // a lone first page: no granule to read
      [m4a(0, 48_000), "v.m4a", null], // fragmented: duration 0 in the movie header
    ];
    for (const [bytes, name, duration] of cases) {
      const res = await voiceNote(alice, id, bytes, name);
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(201);
      expect(res.body.attachment.duration, name).toBe(duration);
      const row = await env.DB.prepare("SELECT duration_ms FROM attachments WHERE id = ?").bind(res.body.attachment.id).first<{ duration_ms: number | null }>();
      expect(row!.duration_ms).toBe(duration === null ? null : duration * 1000);
    }
  });

  it("keeps a stated duration over the one in the file, and reads it for a plain audio upload too", async () => {
    const id = await fresh();
    const stated = await voiceNote(alice, id, wav(12_000), "v.wav", { duration: "4" });
    expect(stated.body.attachment.duration).toBe(4);
    expect((await uploaded(alice, id, wav(4_000), "a.wav")).duration).toBe(0.5);
  });

  it("refuses a stated duration that is not a positive number of seconds: 400 naming duration", async () => {
    const id = await fresh();
    expectError(await voiceNote(alice, id, wav(), "v.wav", { duration: "0" }), 400, "VALIDATION_ERROR", "duration");
    expectError(await voiceNote(alice, id, wav(), "v.wav", { duration: "soon" }), 400, "VALIDATION_ERROR", "duration");
    await expectNothingStored(id);
    expect((await listMessages(alice, id)).body.messages).toEqual([]);
  });

  it("refuses a PNG or a PDF as a voice note: 415", async () => {
    const id = await fresh();
    expectError(await voiceNote(alice, id, PNG, "v.wav", { duration: "1" }), 415, "UNSUPPORTED_FILE_TYPE");
    expectError(await voiceNote(alice, id, PDF, "v.ogg", { duration: "1" }), 415, "UNSUPPORTED_FILE_TYPE");
    await expectNothingStored(id);
    expect((await listMessages(alice, id)).body.messages).toEqual([]);
  });

  it("leaves nothing stored when the voice message itself is refused (bad client_id, unknown reply_to)", async () => {
    const id = await fresh();
    const longClientId = await voiceNote(alice, id, wav(), "v.wav", { duration: "1", client_id: "x".repeat(200) });
    expectError(longClientId, 400, "VALIDATION_ERROR", "client_id");
    const badReply = await voiceNote(alice, id, wav(), "v.wav", { duration: "1", reply_to: "msg_does_not_exist" });
    expectError(badReply, 400, "VALIDATION_ERROR", "reply_to");
    expect((await listMessages(alice, id)).body.messages).toEqual([]);
    await expectNothingStored(id);
  });

  it("refuses a voice-note body without the voice_note field: 400 naming voice_note", async () => {
    const id = await fresh();
    const res = await callJson(`/api/v1/conversations/${id}/voice-notes`, {
      method: "POST",
      token: alice.token,
      body: form("file", wav(), "v.wav", "audio/wav", { duration: "1" }),
    });
    expectError(res, 400, "VALIDATION_ERROR", "voice_note");
    await expectNothingStored(id);
  });
});

describe("deleting the message withholds its attachment", () => {
  it("nulls the attachment in history and makes the download 404", async () => {
    const id = await fresh();
    const bytes = wav(64);
    const att = await uploaded(alice, id, bytes, "v.wav");
    const sent = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id } });
    expect(sent.status).toBe(201);
    const before = await download(att.url, { token: bob.token });
    expect(before.status).toBe(200);
    expect(before.bytes).toEqual(bytes);

    const deleted = await callJson(`/api/v1/conversations/${id}/messages/${sent.body.id}`, { method: "DELETE", token: alice.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body.attachment).toBeNull();
    expect(deleted.body.deleted_at).toEqual(expect.any(String));

    const seen = await listMessages(bob, id);
    const message = seen.body.messages.find((m: any) => m.id === sent.body.id);
    expect(message).toMatchObject({ attachment: null, deleted_at: expect.any(String) });

    const after = await eventually(() => download(att.url, { token: bob.token }), {
      until: (r) => r.status === 404,
    });
    expect(after.status).toBe(404);
    expect(JSON.parse(new TextDecoder().decode(after.bytes)).error.code).toBe("NOT_FOUND");
    const uploader = await download(`${att.url}?token=${encodeURIComponent(alice.token)}`, { headers: { range: "bytes=0-3" } });
    expect(uploader.status).toBe(404);
    const row = await env.DB.prepare("SELECT deleted_at FROM attachments WHERE id = ?").bind(att.id).first<{ deleted_at: string | null }>();
    expect(row!.deleted_at).toEqual(expect.any(String));
  });

  it("does not let a withdrawn attachment be sent again", async () => {
    const id = await fresh();
    const att = await uploaded(alice, id, PNG, "p.png");
    const sent = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id } });
    expect(sent.status).toBe(201);
    expect((await callJson(`/api/v1/conversations/${id}/messages/${sent.body.id}`, { method: "DELETE", token: alice.token })).status).toBe(200);
    const again = await callJson(`/api/v1/conversations/${id}/messages`, { method: "POST", token: alice.token, json: { attachment_id: att.id } });
    expectError(again, 400, "VALIDATION_ERROR", "attachment_id");
  });
});

describe("upload rate limit", () => {
  it("refuses the 11th upload within a minute with 429 and Retry-After, per user", async () => {
    const id = await fresh();
    for (let i = 0; i < 10; i++) {
      const res = await upload(alice, id, PNG, `p${i}.png`, "image/png");
      expect(res.status, `upload ${i + 1}: ${JSON.stringify(res.body)}`).toBe(201);
    }
    const eleventh = await upload(alice, id, PNG, "p10.png", "image/png");
    expectError(eleventh, 429, "RATE_LIMIT_EXCEEDED");
    const retryAfter = Number(eleventh.response.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await d1Count(id)).toBe(10);
    expect((await r2Keys(id)).length).toBe(10);

    // Voice notes take a bucket of their own.
    expect((await voiceNote(alice, id, wav(), "v.wav", { duration: "1" })).status).toBe(201);

    // Another participant has their own bucket.
    const bobs = await upload(bob, id, PNG, "b.png", "image/png");
    expect(bobs.status).toBe(201);
    expect(await d1Count(id)).toBe(12);
  });

  it("refuses the 11th voice note within a minute (RATE_VOICE_NOTES_PER_MIN), while file uploads go on", async () => {
    const id = await fresh();
    for (let i = 0; i < 10; i++) {
      const res = await voiceNote(alice, id, wav(), `v${i}.wav`);
      expect(res.status, `voice note ${i + 1}: ${JSON.stringify(res.body)}`).toBe(201);
    }
    const eleventh = await voiceNote(alice, id, wav(), "v10.wav");
    expectError(eleventh, 429, "RATE_LIMIT_EXCEEDED");
    expect(Number(eleventh.response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(eleventh.body.error.message).toMatch(/voice notes/);
    expect((await upload(alice, id, PNG, "p.png", "image/png")).status).toBe(201);
    expect((await voiceNote(bob, id, wav(), "b.wav")).status).toBe(201);
    expect(await d1Count(id)).toBe(12);
  });
});
