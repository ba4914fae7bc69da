/**
 * Pure: how long a piece of audio plays, read from its container where the answer is certain
 * and cheap, otherwise null (a voice note without a duration then says null, never a guess).
 *
 * - WAV: the `data` chunk's size over the `fmt ` chunk's frame size and rate (PCM, float, A-law,
 *   µ-law), or the `fact` chunk's sample count for compressed formats. A `data` size running
 *   past the end of the file (a streaming placeholder) is not certain.
 * - M4A/MP4: the movie header (`moov`/`mvhd`) duration over its timescale; 0 or "unknown"
 *   (fragmented recordings) is not certain.
 * - Ogg Opus/Vorbis: the last granule position of the first stream over its sample rate (Opus:
 *   48 kHz, less the pre-skip), when every page of the file parses back to back to its end.
 * - MP3, WebM and anything else: null (their length is not written down in one place).
 *
 * Longer than MAX_DURATION_SECONDS (also the most an uploader may state) is not believed either.
 */
export const MAX_DURATION_SECONDS = 3600;

export function audioDuration(bytes: Uint8Array, contentType: string): number | null {
  const reader = READERS[contentType];
  const seconds = reader ? reader(new Bytes(bytes)) : null;
  if (seconds === null || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_DURATION_SECONDS) return null;
  return Math.round(seconds * 1000) / 1000;
}

const READERS: Record<string, (b: Bytes) => number | null> = {
  "audio/wav": wavSeconds,
  "audio/mp4": mp4Seconds,
  "audio/ogg": oggSeconds,
};

/** Little- and big-endian reads that answer null past the end instead of throwing. */
class Bytes {
  private readonly view: DataView;
  constructor(readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  get length(): number {
    return this.data.byteLength;
  }
  has(offset: number, count: number): boolean {
    return offset >= 0 && offset + count <= this.length;
  }
  ascii(offset: number, count: number): string {
    return this.has(offset, count) ? String.fromCharCode(...this.data.subarray(offset, offset + count)) : "";
  }
  u8(offset: number): number | null {
    return this.has(offset, 1) ? this.data[offset]! : null;
  }
  u16le(offset: number): number | null {
    return this.has(offset, 2) ? this.view.getUint16(offset, true) : null;
  }
  u32le(offset: number): number | null {
    return this.has(offset, 4) ? this.view.getUint32(offset, true) : null;
  }
  u32be(offset: number): number | null {
    return this.has(offset, 4) ? this.view.getUint32(offset, false) : null;
  }
  /** As a double: exact up to 2^53, which any real duration is far below. */
  u64le(offset: number): number | null {
    return this.has(offset, 8) ? this.view.getUint32(offset + 4, true) * 2 ** 32 + this.view.getUint32(offset, true) : null;
  }
  u64be(offset: number): number | null {
    return this.has(offset, 8) ? this.view.getUint32(offset, false) * 2 ** 32 + this.view.getUint32(offset + 4, false) : null;
  }
}

// ── WAV ──

/** Format tags whose data is fixed-size frames: PCM, IEEE float, A-law, µ-law. */
const FRAMED_FORMATS = new Set([1, 3, 6, 7]);
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function wavSeconds(b: Bytes): number | null {
  if (b.ascii(0, 4) !== "RIFF" || b.ascii(8, 4) !== "WAVE") return null;
  let format: { tag: number; rate: number; blockAlign: number } | null = null;
  let factSamples: number | null = null;
  for (let offset = 12; b.has(offset, 8); ) {
    const id = b.ascii(offset, 4);
    const size = b.u32le(offset + 4)!;
    const body = offset + 8;
    if (id === "fmt " && size >= 16) format = wavFormat(b, body, size);
    if (id === "fact" && size >= 4) factSamples = b.u32le(body);
    if (id === "data") {
      if (!format || format.rate === 0 || !b.has(body, size)) return null;
      if (FRAMED_FORMATS.has(format.tag)) return format.blockAlign > 0 ? Math.floor(size / format.blockAlign) / format.rate : null;
      return factSamples !== null ? factSamples / format.rate : null;
    }
    offset = body + size + (size % 2); // chunks are padded to even sizes
  }
  return null;
}

/** The `fmt ` chunk; an extensible one counts as the format of its sub-format GUID's first two bytes. */
function wavFormat(b: Bytes, body: number, size: number): { tag: number; rate: number; blockAlign: number } | null {
  const tag = b.u16le(body);
  const rate = b.u32le(body + 4);
  const blockAlign = b.u16le(body + 12);
  if (tag === null || rate === null || blockAlign === null) return null;
  const subFormat = tag === WAVE_FORMAT_EXTENSIBLE && size >= 40 ? b.u16le(body + 24) : null;
  return { tag: subFormat ?? tag, rate, blockAlign };
}

// ── M4A / MP4 ──

function mp4Seconds(b: Bytes): number | null {
  const moov = findBox(b, 0, b.length, "moov");
  const mvhd = moov && findBox(b, moov.body, moov.end, "mvhd");
  if (!mvhd) return null;
  const version = b.u8(mvhd.body);
  // version 0: 32-bit times, timescale at +12, duration at +16; version 1: 64-bit, at +20 and +24.
  const timescale = version === 0 ? b.u32be(mvhd.body + 12) : version === 1 ? b.u32be(mvhd.body + 20) : null;
  const duration = version === 0 ? b.u32be(mvhd.body + 16) : version === 1 ? b.u64be(mvhd.body + 24) : null;
  const unknown = version === 0 ? 0xffffffff : 2 ** 64 - 1;
  if (!timescale || !duration || duration >= unknown) return null;
  return duration / timescale;
}

/** The first box of `type` among the boxes laid out between `from` and `to`. */
function findBox(b: Bytes, from: number, to: number, type: string): { body: number; end: number } | null {
  for (let offset = from; offset + 8 <= to; ) {
    let size = b.u32be(offset)!;
    let header = 8;
    if (size === 1) {
      size = b.u64be(offset + 8) ?? 0;
      header = 16;
    } else if (size === 0) {
      size = to - offset; // extends to the end of its container
    }
    if (size < header || offset + size > to) return null;
    if (b.ascii(offset + 4, 4) === type) return { body: offset + header, end: offset + size };
    offset += size;
  }
  return null;
}

// ── Ogg ──

const OGG_PAGE_HEADER = 27;
const OPUS_RATE = 48_000;

interface OggPage {
  granule: number | null;
  serial: number;
  /** Where the page's packet data starts and where the page ends. */
  body: number;
  end: number;
}

function oggPage(b: Bytes, offset: number): OggPage | null {
  if (b.ascii(offset, 4) !== "OggS" || b.u8(offset + 4) !== 0) return null;
  const segments = b.u8(offset + 26);
  if (segments === null || !b.has(offset + OGG_PAGE_HEADER, segments)) return null;
  let bodySize = 0;
  for (let i = 0; i < segments; i++) bodySize += b.u8(offset + OGG_PAGE_HEADER + i)!;
  const body = offset + OGG_PAGE_HEADER + segments;
  if (!b.has(body, bodySize)) return null;
  const noGranule = b.u32le(offset + 6) === 0xffffffff && b.u32le(offset + 10) === 0xffffffff;
  return { granule: noGranule ? null : b.u64le(offset + 6), serial: b.u32le(offset + 14)!, body, end: body + bodySize };
}

/** The first stream's sample rate and the samples to skip at its start, from its first packet (Opus or Vorbis). */
function oggCodec(b: Bytes, page: OggPage): { rate: number; preSkip: number } | null {
  if (b.ascii(page.body, 8) === "OpusHead") {
    const preSkip = b.u16le(page.body + 10);
    return preSkip === null ? null : { rate: OPUS_RATE, preSkip };
  }
  if (b.u8(page.body) === 0x01 && b.ascii(page.body + 1, 6) === "vorbis") {
    const rate = b.u32le(page.body + 12);
    return rate ? { rate, preSkip: 0 } : null;
  }
  return null;
}

function oggSeconds(b: Bytes): number | null {
  const first = oggPage(b, 0);
  const codec = first && oggCodec(b, first);
  if (!first || !codec) return null;
  let lastGranule: number | null = null;
  let offset = 0;
  while (offset < b.length) {
    const page = oggPage(b, offset);
    if (!page) return null; // not pages back to back up to the end: not sure
    if (page.serial === first.serial && page.granule !== null) lastGranule = page.granule;
    offset = page.end;
  }
  return lastGranule === null ? null : (lastGranule - codec.preSkip) / codec.rate;
}
