import { describe, expect, it } from "vitest";
import { audioDuration } from "../../src/lib/audio-duration";
import { bytes, u16le, u32le } from "../helpers/bytes";
import { box, m4a, OGG, oggOpus, oggPage, wav } from "../helpers/uploads";

/** A WAV header of any format: `fmt ` (16 bytes, or 40 for extensible), optional extra chunks, then `data` declaring `dataSize` and holding `actual` bytes. */
function wavOf(format: { tag: number; channels: number; rate: number; bits: number; subFormat?: number }, dataSize: number, options: { actual?: number; before?: Uint8Array[] } = {}) {
  const blockAlign = (format.channels * format.bits) / 8;
  const fmtBody = [u16le(format.tag), u16le(format.channels), u32le(format.rate), u32le(format.rate * blockAlign), u16le(blockAlign), u16le(format.bits)];
  const extensible = format.subFormat === undefined ? [] : [u16le(22), u16le(format.bits), u32le(3), u16le(format.subFormat), new Uint8Array(14)];
  const fmt = bytes("fmt ", u32le(format.subFormat === undefined ? 16 : 40), ...fmtBody, ...extensible);
  const data = bytes("data", u32le(dataSize), new Uint8Array(options.actual ?? dataSize));
  const body = bytes("WAVE", fmt, ...(options.before ?? []), data);
  return bytes("RIFF", u32le(body.byteLength), body);
}

describe("audioDuration: WAV", () => {
  it("reads data size over frame size and rate (the 8 kHz mono test file)", () => {
    expect(audioDuration(wav(8000), "audio/wav")).toBe(1);
    expect(audioDuration(wav(100), "audio/wav")).toBe(0.013); // 12.5 ms, to the millisecond
  });

  it("handles stereo 16-bit 44.1 kHz, float, extensible PCM and chunks before data (LIST, odd-sized padding)", () => {
    expect(audioDuration(wavOf({ tag: 1, channels: 2, rate: 44_100, bits: 16 }, 44_100 * 4 * 2), "audio/wav")).toBe(2);
    expect(audioDuration(wavOf({ tag: 3, channels: 1, rate: 48_000, bits: 32 }, 48_000 * 4), "audio/wav")).toBe(1);
    expect(audioDuration(wavOf({ tag: 0xfffe, channels: 1, rate: 16_000, bits: 16, subFormat: 1 }, 16_000 * 2 * 3), "audio/wav")).toBe(3);
    const list = bytes("LIST", u32le(5), "INFOx", 0); // 5 bytes + 1 byte of padding
    expect(audioDuration(wavOf({ tag: 1, channels: 1, rate: 8000, bits: 8 }, 4000, { before: [list] }), "audio/wav")).toBe(0.5);
  });

  it("uses the fact chunk for a compressed format, and is null without one", () => {
    const fact = bytes("fact", u32le(4), u32le(24_000));
    expect(audioDuration(wavOf({ tag: 0x11, channels: 1, rate: 8000, bits: 4 }, 1200, { before: [fact] }), "audio/wav")).toBe(3);
    expect(audioDuration(wavOf({ tag: 0x11, channels: 1, rate: 8000, bits: 4 }, 1200), "audio/wav")).toBeNull();
  });

  it("is null when the data size is a streaming placeholder or runs past the file, or there is no fmt", () => {
    expect(audioDuration(wavOf({ tag: 1, channels: 1, rate: 8000, bits: 8 }, 0xffffffff, { actual: 800 }), "audio/wav")).toBeNull();
    expect(audioDuration(wavOf({ tag: 1, channels: 1, rate: 8000, bits: 8 }, 8000, { actual: 800 }), "audio/wav")).toBeNull();
    expect(audioDuration(wavOf({ tag: 1, channels: 1, rate: 8000, bits: 8 }, 0), "audio/wav")).toBeNull();
    expect(audioDuration(bytes("RIFF", u32le(12), "WAVE", "data", u32le(4), [1, 2, 3, 4]), "audio/wav")).toBeNull();
    expect(audioDuration(bytes("RIFF", u32le(4), "WAVE"), "audio/wav")).toBeNull();
  });
});

describe("audioDuration: M4A", () => {
  it("reads the movie header's duration over its timescale, before or after the media data", () => {
    expect(audioDuration(m4a(132_300, 44_100), "audio/mp4")).toBe(3);
    expect(audioDuration(m4a(7_500, 1_000, { moovLast: true }), "audio/mp4")).toBe(7.5);
  });

  it("reads a version-1 (64-bit) movie header", () => {
    const mvhd = box("mvhd", [1, 0, 0, 0], new Uint8Array(16), [0, 0, 0x03, 0xe8], [0, 0, 0, 0, 0, 0, 0x2e, 0xe0], new Uint8Array(80));
    expect(audioDuration(bytes(box("ftyp", "M4A ", [0, 0, 0, 0]), box("moov", mvhd)), "audio/mp4")).toBe(12);
  });

  it("is null for a fragmented recording (duration 0), a missing or truncated moov, or a zero timescale", () => {
    expect(audioDuration(m4a(0, 44_100), "audio/mp4")).toBeNull();
    expect(audioDuration(m4a(1000, 0), "audio/mp4")).toBeNull();
    expect(audioDuration(bytes(box("ftyp", "M4A ", [0, 0, 0, 0]), box("mdat", new Uint8Array(16))), "audio/mp4")).toBeNull();
    const whole = m4a(132_300, 44_100, { moovLast: true });
    expect(audioDuration(whole.subarray(0, whole.byteLength - 20), "audio/mp4")).toBeNull();
  });
});

describe("audioDuration: Ogg", () => {
  it("reads the last granule position of an Opus stream at 48 kHz, less the pre-skip", () => {
    expect(audioDuration(oggOpus([48_312, 96_312, 144_312]), "audio/ogg")).toBe(3);
    expect(audioDuration(oggOpus([24_000 + 312]), "audio/ogg")).toBe(0.5);
  });

  it("reads a Vorbis stream at the rate of its identification header", () => {
    const ident = bytes(1, "vorbis", u32le(0), 1, u32le(22_050), u32le(0), u32le(64_000), u32le(0), 0xb8, 1);
    const file = bytes(oggPage(7, 0, 0, 0x02, ident), oggPage(7, 1, 44_100, 0x00, new Uint8Array(600)), oggPage(7, 2, 55_125, 0x04, new Uint8Array(100)));
    expect(audioDuration(file, "audio/ogg")).toBe(2.5);
  });

  it("skips pages that end no packet (granule -1) and pages of another stream", () => {
    const opus = oggOpus([48_312]);
    const noGranule = oggPage(0x5eed, 9, 2 ** 53 - 1, 0, new Uint8Array(10));
    noGranule.fill(0xff, 6, 14);
    const otherStream = oggPage(0xbeef, 0, 999_999_999, 0x02, new Uint8Array(10));
    expect(audioDuration(bytes(opus, noGranule, otherStream), "audio/ogg")).toBe(1);
  });

  it("is null for a truncated file, trailing garbage, an unknown codec, or the bare first page", () => {
    const opus = oggOpus([48_312, 96_312]);
    expect(audioDuration(opus.subarray(0, opus.byteLength - 1), "audio/ogg")).toBeNull();
    expect(audioDuration(bytes(opus, "junk"), "audio/ogg")).toBeNull();
    expect(audioDuration(bytes(oggPage(1, 0, 0, 0x02, bytes("fLaC", new Uint8Array(30))), oggPage(1, 1, 48_000, 0x04, new Uint8Array(20))), "audio/ogg")).toBeNull();
    expect(audioDuration(OGG, "audio/ogg")).toBeNull();
  });
});

describe("audioDuration: formats that do not say", () => {
  it("is null for MP3, WebM and anything unknown, and for implausible lengths", () => {
    expect(audioDuration(bytes("ID3", [3, 0, 0, 0, 0, 0, 0], [0xff, 0xfb, 0x90, 0x64], new Uint8Array(60)), "audio/mpeg")).toBeNull();
    expect(audioDuration(bytes([0x1a, 0x45, 0xdf, 0xa3], "webm", new Uint8Array(40)), "audio/webm")).toBeNull();
    expect(audioDuration(wav(8000), "image/png")).toBeNull();
    expect(audioDuration(m4a(3601, 1), "audio/mp4")).toBeNull(); // over an hour: not believed
  });
});
