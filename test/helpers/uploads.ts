import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { callJson, type TestUser } from "./api";
import { bytes, u16le, u32be, u32le, u64le } from "./bytes";

// ── files as bytes (real headers: the server decides the type from them) ──

/** A mono 8 kHz 8-bit PCM WAV: 44-byte header + `samples` bytes of a ramp. */
export function wav(samples = 100): Uint8Array {
  const pcm = Uint8Array.from({ length: samples }, (_, i) => (i * 7 + 3) % 256);
  return bytes(
    "RIFF",
    u32le(36 + samples),
    "WAVE",
    "fmt ",
    u32le(16),
    u16le(1), // PCM
    u16le(1), // mono
    u32le(8000), // sample rate
    u32le(8000), // byte rate
    u16le(1), // block align
    u16le(8), // bits per sample
    "data",
    u32le(samples),
    pcm,
  );
}

/** The first page of an Ogg Vorbis stream. */
export const OGG = bytes("OggS", [0x00, 0x02], new Uint8Array(20), [0x01, 0x1e, 0x01], "vorbis", new Uint8Array(22));

/** An ISO BMFF box: 32-bit big-endian size, type, body. */
export const box = (type: string, ...body: (string | number | number[] | Uint8Array)[]) => {
  const inner = bytes(...body);
  return bytes(u32be(8 + inner.byteLength), type, inner);
};

/** An M4A whose movie header (version 0) says `duration` units of `timescale` per second; `moovLast` puts it after the media data, as many recorders do. */
export function m4a(duration: number, timescale: number, options: { moovLast?: boolean } = {}): Uint8Array {
  const ftyp = box("ftyp", "M4A ", u32be(0), "M4A isom");
  const mvhd = box("mvhd", [0, 0, 0, 0], u32be(0), u32be(0), u32be(timescale), u32be(duration), new Uint8Array(80));
  const moov = box("moov", mvhd, box("trak", box("tkhd", new Uint8Array(84))));
  const mdat = box("mdat", new Uint8Array(64).fill(0x21));
  return options.moovLast ? bytes(ftyp, mdat, moov) : bytes(ftyp, moov, mdat);
}

/** One Ogg page (CRC left zero: readers of the duration do not need it) holding `packet`. */
export function oggPage(serial: number, sequence: number, granule: number, headerType: number, packet: Uint8Array): Uint8Array {
  const lacing = [...Array<number>(Math.floor(packet.byteLength / 255)).fill(255), packet.byteLength % 255];
  return bytes("OggS", 0, headerType, u64le(granule), u32le(serial), u32le(sequence), u32le(0), lacing.length, lacing, packet);
}

/**
 * An Ogg Opus file: OpusHead (pre-skip `preSkip`), OpusTags, then audio pages ending at
 * `granules` (48 kHz samples, pre-skip included), the last one flagged end of stream.
 */
export function oggOpus(granules: number[], preSkip = 312): Uint8Array {
  const serial = 0x5eed;
  const head = oggPage(serial, 0, 0, 0x02, bytes("OpusHead", 1, 1, u16le(preSkip), u32le(48_000), u16le(0), 0));
  const tags = oggPage(serial, 1, 0, 0x00, bytes("OpusTags", u32le(4), "test", u32le(0)));
  const audio = granules.map((granule, i) => oggPage(serial, i + 2, granule, i === granules.length - 1 ? 0x04 : 0x00, new Uint8Array(300).fill(i + 1)));
  return bytes(head, tags, ...audio);
}

/** A multipart form with one file in `field` and the string fields of `extra`. */
export function fileForm(field: string, content: Uint8Array, name: string, type: string, extra: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.append(field, new File([content], name, { type }));
  for (const [key, value] of Object.entries(extra)) form.append(key, value);
  return form;
}

// ── what an upload left behind ──

/** The R2 keys under the conversation's prefix. */
export async function storedKeys(conversationId: string): Promise<string[]> {
  const listed = await env.BUCKET.list({ prefix: `conversations/${conversationId}/` });
  return listed.objects.map((o) => o.key);
}

/** The conversation's rows in D1's attachments table. */
export async function attachmentRows(conversationId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM attachments WHERE conversation_id = ?").bind(conversationId).first<{ n: number }>();
  return row!.n;
}

/** No bytes in R2 and no metadata row in D1 for the conversation. */
export async function expectNothingStored(conversationId: string): Promise<void> {
  expect(await storedKeys(conversationId), "R2 objects under the conversation's prefix").toEqual([]);
  expect(await attachmentRows(conversationId), "D1 attachments rows of the conversation").toBe(0);
}

// ── a slow upload ──

/**
 * A multipart body that arrives slowly: its first `firstBytes` bytes at once, the rest only on
 * `release()`. `reading` resolves when the reader asks for more than the first chunk: the
 * stream has no buffer of its own (highWaterMark 0) and the runtime's pipe asks for one chunk
 * ahead, so a second pull means the Worker itself is reading the body (an upload refused at
 * admission is never read past that chunk).
 */
export async function heldBody(form: FormData, firstBytes = 64) {
  const encoded = new Response(form);
  const contentType = encoded.headers.get("content-type")!;
  const all = new Uint8Array(await encoded.arrayBuffer());
  let pulls = 0;
  let markReading!: () => void;
  const reading = new Promise<void>((resolve) => (markReading = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        pulls++;
        if (pulls === 1) return controller.enqueue(all.slice(0, firstBytes));
        markReading();
        await released;
        controller.enqueue(all.slice(firstBytes));
        controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, contentType, reading, release };
}

/**
 * POSTs `form` to `path` as `user` with its body held back: once the Worker is reading the
 * body (so the upload was admitted), `during` runs to completion, and only then does the rest
 * of the body arrive. Throws if the Worker answered before reading the body.
 */
export async function uploadWhile(user: Pick<TestUser, "token">, path: string, form: FormData, during: () => Promise<void>) {
  const held = await heldBody(form);
  const answer = callJson(path, { method: "POST", token: user.token, body: held.stream, headers: { "content-type": held.contentType } });
  const early = await Promise.race([held.reading.then(() => null), answer]);
  if (early) throw new Error(`answered ${early.status} before reading the body: ${JSON.stringify(early.body)}`);
  try {
    await during();
  } finally {
    held.release();
  }
  return answer;
}
