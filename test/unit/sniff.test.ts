import { describe, expect, it } from "vitest";
import { isReactionEmoji } from "../../src/lib/emoji";
import { extensionOf, sniff } from "../../src/lib/sniff";
import { cleanFileName, parseRange } from "../../src/lib/uploads";
import { bytes, u32le } from "../helpers/bytes";

const zeros = (n: number) => new Uint8Array(n);

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("sniff: supported signatures", () => {
  const cases: [string, Uint8Array, { contentType: string; kind: string; extension: string }][] = [
    ["jpeg (JFIF)", bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], "JFIF", 0, zeros(8)), { contentType: "image/jpeg", kind: "image", extension: "jpg" }],
    ["jpeg (Exif)", bytes([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x18], "Exif", zeros(8)), { contentType: "image/jpeg", kind: "image", extension: "jpg" }],
    ["png", bytes(PNG_SIGNATURE, [0, 0, 0, 13], "IHDR", zeros(13)), { contentType: "image/png", kind: "image", extension: "png" }],
    ["gif87a", bytes("GIF87a", [1, 0, 1, 0, 0, 0, 0]), { contentType: "image/gif", kind: "image", extension: "gif" }],
    ["gif89a", bytes("GIF89a", [1, 0, 1, 0, 0, 0, 0]), { contentType: "image/gif", kind: "image", extension: "gif" }],
    ["webp", bytes("RIFF", u32le(26), "WEBP", "VP8 ", u32le(14), zeros(14)), { contentType: "image/webp", kind: "image", extension: "webp" }],
    ["wav", bytes("RIFF", u32le(36), "WAVE", "fmt ", u32le(16), zeros(16)), { contentType: "audio/wav", kind: "audio", extension: "wav" }],
    ["ogg", bytes("OggS", 0, 2, zeros(20), 1, "vorbis"), { contentType: "audio/ogg", kind: "audio", extension: "ogg" }],
    ["webm", bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84], "webm", zeros(8)), { contentType: "audio/webm", kind: "audio", extension: "webm" }],
    ["m4a (M4A brand)", bytes([0, 0, 0, 0x20], "ftyp", "M4A ", zeros(4), "M4A isom"), { contentType: "audio/mp4", kind: "audio", extension: "m4a" }],
    ["m4a (isom brand)", bytes([0, 0, 0, 0x18], "ftyp", "isom", zeros(4), "mp41"), { contentType: "audio/mp4", kind: "audio", extension: "m4a" }],
    ["mp3 (ID3 tag)", bytes("ID3", [3, 0, 0, 0, 0, 0, 0x21]), { contentType: "audio/mpeg", kind: "audio", extension: "mp3" }],
    ["mp3 (bare MPEG-1 Layer III frame)", bytes([0xff, 0xfb, 0x90, 0x64], zeros(8)), { contentType: "audio/mpeg", kind: "audio", extension: "mp3" }],
    ["mp3 (MPEG-2 Layer III frame)", bytes([0xff, 0xf3, 0x40, 0xc4], zeros(8)), { contentType: "audio/mpeg", kind: "audio", extension: "mp3" }],
    ["pdf", bytes("%PDF-1.4\n%\xe2\xe3\n1 0 obj"), { contentType: "application/pdf", kind: "document", extension: "pdf" }],
  ];
  for (const [name, input, expected] of cases) {
    it(`recognises ${name}`, () => {
      expect(sniff(input)).toEqual(expected);
    });
  }

  it("decides from the first bytes only, whatever follows", () => {
    expect(sniff(bytes(PNG_SIGNATURE, "<html><script>alert(1)</script>"))?.contentType).toBe("image/png");
  });
});

describe("sniff: near-misses are refused", () => {
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["HTML", bytes("<!DOCTYPE html><html><body>hi</body></html>")],
    ["HTML with leading whitespace", bytes("  \n<html><script>alert(1)</script></html>")],
    ["SVG", bytes('<svg xmlns="http://www.w3.org/2000/svg"></svg>')],
    ["plain text", bytes("hello, this is just text\n")],
    ["JSON", bytes('{"file":"x.png"}')],
    ["RIFF without WAVE or WEBP (AVI)", bytes("RIFF", u32le(100), "AVI ", "LIST", zeros(8))],
    ["RIFF with WAVE at the wrong offset", bytes("RIFF", "WAVE", zeros(8))],
    ["RIFF truncated before its form type", bytes("RIFF", u32le(4))],
    ["ftyp with an unknown brand (qt)", bytes([0, 0, 0, 0x14], "ftyp", "qt  ", zeros(8))],
    ["ftyp with a HEIC brand", bytes([0, 0, 0, 0x18], "ftyp", "heic", zeros(8))],
    ["ftyp at the wrong offset", bytes("ftypM4A ", zeros(8))],
    ["PNG signature truncated", Uint8Array.from(PNG_SIGNATURE.slice(0, 7))],
    ["PNG signature with one wrong byte", Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0b, 0, 0])],
    ["two JPEG bytes", Uint8Array.from([0xff, 0xd8])],
    ["GIF88a", bytes("GIF88a", zeros(6))],
    ["%PDF without the dash", bytes("%PDF1.4")],
    ["EBML without the webm doctype (matroska)", bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81], "matroska", zeros(8))],
    ["MPEG frame with the reserved version", Uint8Array.from([0xff, 0xeb, 0x90, 0x64])],
    ["MPEG frame of layer I", Uint8Array.from([0xff, 0xff, 0x90, 0x64])],
    ["MPEG frame with a bad bitrate index", Uint8Array.from([0xff, 0xfb, 0xf0, 0x64])],
    ["ZIP", bytes("PK", [3, 4], zeros(10))],
    ["ELF executable", bytes([0x7f], "ELF", zeros(10))],
    ["random bytes", Uint8Array.from([0x13, 0x37, 0xc0, 0xde, 0x42, 0x99, 0x01, 0xfe, 0x00, 0x7a, 0x55, 0xaa])],
    ["all zeros", zeros(64)],
  ];
  for (const [name, input] of cases) {
    it(`refuses ${name}`, () => {
      expect(sniff(input)).toBeNull();
    });
  }
});

describe("parseRange", () => {
  it("serves the whole file when there is no usable header", () => {
    expect(parseRange(null, 100)).toBeNull();
    expect(parseRange("", 100)).toBeNull();
    expect(parseRange("bytes=-", 100)).toBeNull();
    expect(parseRange("items=0-9", 100)).toBeNull();
    expect(parseRange("bytes=abc-def", 100)).toBeNull();
    expect(parseRange("bytes=0-1,5-6", 100)).toBeNull();
  });

  it("parses a closed range", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ offset: 0, length: 10 });
    expect(parseRange("bytes=10-19", 100)).toEqual({ offset: 10, length: 10 });
    expect(parseRange("bytes=99-99", 100)).toEqual({ offset: 99, length: 1 });
  });

  it("clamps an end past the file to its last byte", () => {
    expect(parseRange("bytes=90-1000", 100)).toEqual({ offset: 90, length: 10 });
    expect(parseRange("bytes=0-99", 100)).toEqual({ offset: 0, length: 100 });
  });

  it("parses an open-ended range", () => {
    expect(parseRange("bytes=10-", 100)).toEqual({ offset: 10, length: 90 });
    expect(parseRange("bytes=0-", 100)).toEqual({ offset: 0, length: 100 });
    expect(parseRange("bytes=99-", 100)).toEqual({ offset: 99, length: 1 });
  });

  it("parses a suffix range, clamped to the file", () => {
    expect(parseRange("bytes=-5", 100)).toEqual({ offset: 95, length: 5 });
    expect(parseRange("bytes=-100", 100)).toEqual({ offset: 0, length: 100 });
    expect(parseRange("bytes=-500", 100)).toEqual({ offset: 0, length: 100 });
  });

  it("calls ranges that start past the end, run backwards or are empty suffixes unsatisfiable", () => {
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=100-200", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=500-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=5-4", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
  });
});

describe("cleanFileName", () => {
  it("keeps an ordinary name whose extension is the sniffed type's", () => {
    expect(cleanFileName("photo.png", "png")).toBe("photo.png");
    expect(cleanFileName("résumé 2024 (final).pdf", "pdf")).toBe("résumé 2024 (final).pdf");
    expect(cleanFileName("holiday.jpeg", "jpg")).toBe("holiday.jpeg");
  });

  it("ends in the sniffed type's extension: a wrong one is replaced, a missing one added, the case lowered", () => {
    expect(cleanFileName("report.html", "pdf")).toBe("report.pdf");
    expect(cleanFileName("pic.exe", "gif")).toBe("pic.gif");
    expect(cleanFileName("invoice.pdf.exe", "pdf")).toBe("invoice.pdf.pdf");
    expect(cleanFileName("archive.tar.gz", "png")).toBe("archive.tar.png");
    expect(cleanFileName("IMG_0001.JPG", "jpg")).toBe("IMG_0001.jpg");
    expect(cleanFileName("voice", "ogg")).toBe("voice.ogg");
    expect(cleanFileName("notes v2.final draft", "pdf")).toBe("notes v2.final draft.pdf");
    expect(cleanFileName("clip.jpeg", "png")).toBe("clip.png");
  });

  it("drops directories, with either separator", () => {
    expect(cleanFileName("../../etc/passwd", "pdf")).toBe("passwd.pdf");
    expect(cleanFileName("C:\\Users\\ann\\Desktop\\scan.pdf", "pdf")).toBe("scan.pdf");
    expect(cleanFileName("/abs/path/to/voice.ogg", "ogg")).toBe("voice.ogg");
  });

  it("removes C0 and C1 controls and double quotes, and trims", () => {
    expect(cleanFileName('  we"ird\r\nna\u0000me\u007f.png  ', "png")).toBe("weirdname.png");
    expect(cleanFileName("a\u0080b\u0085c\u009f.png", "png")).toBe("abc.png");
    expect(cleanFileName('x"; filename="evil.html', "png")).toBe("x; filename=evil.png");
  });

  it("removes bidirectional marks, embeddings, overrides and isolates, so the real extension shows", () => {
    // "invoice<RLO>fdp.exe" displays as "invoiceexe.pdf".
    expect(cleanFileName("invoice\u202efdp.exe", "pdf")).toBe("invoicefdp.pdf");
    const bidi = ["\u200e", "\u200f", "\u061c", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"];
    expect(cleanFileName(`p${bidi.join("")}ic.gif${bidi.join("")}`, "gif")).toBe("pic.gif");
    expect(cleanFileName("\u202egpj.exe", "jpg")).toBe("gpj.jpg");
  });

  it("keeps other characters, emoji sequences included, and makes lone surrogates well formed", () => {
    expect(cleanFileName("👨‍👩‍👧 family.jpg", "jpg")).toBe("👨‍👩‍👧 family.jpg");
    expect(cleanFileName("half\ud83d.png", "png")).toBe("half\ufffd.png");
  });

  it("hides nothing behind leading dots or trailing dots and spaces", () => {
    expect(cleanFileName(".bashrc", "pdf")).toBe("bashrc.pdf");
    expect(cleanFileName("pic.exe. . ", "gif")).toBe("pic.gif");
    expect(cleanFileName("scan..pdf", "pdf")).toBe("scan.pdf");
  });

  it("bounds the name at 200 characters (code points), keeping the extension", () => {
    expect(cleanFileName(`${"a".repeat(300)}.png`, "png")).toBe(`${"a".repeat(196)}.png`);
    expect(cleanFileName("b".repeat(200), "png")).toBe(`${"b".repeat(196)}.png`);
    const emoji = cleanFileName(`${"😀".repeat(300)}.gif`, "gif");
    expect(emoji).toBe(`${"😀".repeat(196)}.gif`);
    expect(emoji.isWellFormed()).toBe(true);
  });

  it("falls back to file.<extension> when nothing is left", () => {
    expect(cleanFileName("", "png")).toBe("file.png");
    expect(cleanFileName("   ", "pdf")).toBe("file.pdf");
    expect(cleanFileName("some/dir/", "jpg")).toBe("file.jpg");
    expect(cleanFileName("\u0001\u0002\"", "wav")).toBe("file.wav");
    expect(cleanFileName("\u202e.exe", "gif")).toBe("exe.gif");
  });

  it("is idempotent, so cleaning a stored name again at download changes nothing", () => {
    for (const [name, extension] of [["report.html", "pdf"], ["invoice\u202efdp.exe", "pdf"], [`${"a".repeat(300)}.png`, "png"], ["", "wav"], ["holiday.jpeg", "jpg"]] as const) {
      const once = cleanFileName(name, extension);
      expect(cleanFileName(once, extension)).toBe(once);
    }
  });
});

describe("extensionOf", () => {
  it("gives each content type the extension sniff gives it", () => {
    for (const sample of [bytes([0xff, 0xd8, 0xff, 0xe0]), bytes(PNG_SIGNATURE), bytes("GIF89a"), bytes("RIFF", u32le(26), "WEBP"), bytes("RIFF", u32le(36), "WAVE"), bytes("OggS"), bytes([0x1a, 0x45, 0xdf, 0xa3], "webm"), bytes([0, 0, 0, 0x20], "ftyp", "M4A "), bytes("ID3", 3), bytes("%PDF-1.4")]) {
      const type = sniff(sample)!;
      expect(extensionOf(type.contentType)).toBe(type.extension);
    }
    expect(extensionOf("text/html")).toBe("bin");
  });
});

describe("isReactionEmoji", () => {
  const accepted: [string, string][] = [
    ["thumbs up", "👍"],
    ["red heart with variation selector", "❤️"],
    ["red heart without variation selector", "❤"],
    ["thumbs up with a skin tone", "👍🏽"],
    ["family ZWJ sequence", "👨‍👩‍👧"],
    ["family of four", "👨‍👩‍👧‍👦"],
    ["flag of France", "🇫🇷"],
    ["keycap one", "1️⃣"],
    ["keycap hash without selector", "#⃣"],
    ["shortcode", ":thumbsup:"],
    ["shortcode with + and -", ":+1:"],
    ["shortcode with digits and underscores", ":flag_fr_2:"],
    ["32-character shortcode", `:${"a".repeat(32)}:`],
  ];
  for (const [name, value] of accepted) {
    it(`accepts ${name}`, () => {
      expect(isReactionEmoji(value)).toBe(true);
    });
  }

  /** n men joined by ZWJs, the first k with a variation selector: length 2n + (n - 1) + k. */
  const manChain = (n: number, k: number) =>
    Array.from({ length: n }, (_, i) => (i < k ? "👨\uFE0F" : "👨")).join("\u200D");

  it("accepts a valid sequence of exactly 64 UTF-16 units", () => {
    const value = manChain(21, 2);
    expect(value.length).toBe(64);
    expect(isReactionEmoji(value)).toBe(true);
  });

  const refused: [string, string][] = [
    ["a letter", "a"],
    ["a word", "like"],
    ["two emoji", "👍👍"],
    ["an emoji with text", "👍 ok"],
    ["a shortcode with a space and capitals", ":Bad Name:"],
    ["a capitalised shortcode", ":Thumbsup:"],
    ["an unclosed shortcode", ":thumbsup"],
    ["an empty shortcode", "::"],
    ["a 33-character shortcode", `:${"a".repeat(33)}:`],
    ["the empty string", ""],
    ["a lone skin-tone modifier", "🏽"],
    ["a single regional indicator", "🇫"],
    ["three regional indicators", "🇫🇷🇫"],
    ["a bare digit", "1"],
    ["a valid-looking ZWJ sequence of 65 UTF-16 units", manChain(21, 3)],
  ];
  for (const [name, value] of refused) {
    it(`refuses ${name}`, () => {
      if (name.includes("65")) expect(value.length).toBe(65);
      expect(isReactionEmoji(value)).toBe(false);
    });
  }
});
