export type AttachmentKind = "image" | "audio" | "document";

export interface SniffedType {
  contentType: string;
  kind: AttachmentKind;
  extension: string;
}

const ascii = (bytes: Uint8Array, offset: number, text: string) =>
  bytes.length >= offset + text.length && [...text].every((ch, i) => bytes[offset + i] === ch.charCodeAt(0));

const startsWith = (bytes: Uint8Array, signature: number[]) =>
  bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);

/** ISO base media brands that carry AAC audio as recorded by phones and browsers. */
const M4A_BRANDS = ["M4A ", "M4B ", "mp41", "mp42", "isom", "iso2", "iso5", "dash"];

/** An MPEG-1/2 Layer III frame header: 11 sync bits, a valid version, layer bits 01. */
function isMp3Frame(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== 0xff || (bytes[1]! & 0xe0) !== 0xe0) return false;
  const version = (bytes[1]! >> 3) & 0b11;
  const layer = (bytes[1]! >> 1) & 0b11;
  const bitrate = bytes[2]! >> 4;
  return version !== 0b01 && layer === 0b01 && bitrate !== 0b1111;
}

/**
 * Pure: the file's type from its first bytes (magic numbers), never from its name or the
 * client's header. Anything not recognised is null and refused by the caller.
 */
export function sniff(bytes: Uint8Array): SniffedType | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { contentType: "image/jpeg", kind: "image", extension: "jpg" };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { contentType: "image/png", kind: "image", extension: "png" };
  if (ascii(bytes, 0, "GIF87a") || ascii(bytes, 0, "GIF89a")) return { contentType: "image/gif", kind: "image", extension: "gif" };
  if (ascii(bytes, 0, "RIFF") && ascii(bytes, 8, "WEBP")) return { contentType: "image/webp", kind: "image", extension: "webp" };
  if (ascii(bytes, 0, "RIFF") && ascii(bytes, 8, "WAVE")) return { contentType: "audio/wav", kind: "audio", extension: "wav" };
  if (ascii(bytes, 0, "OggS")) return { contentType: "audio/ogg", kind: "audio", extension: "ogg" };
  if (startsWith(bytes, [0x1a, 0x45, 0xdf, 0xa3]) && includesAscii(bytes.subarray(0, 64), "webm")) {
    return { contentType: "audio/webm", kind: "audio", extension: "webm" };
  }
  if (ascii(bytes, 4, "ftyp") && M4A_BRANDS.some((brand) => ascii(bytes, 8, brand))) {
    return { contentType: "audio/mp4", kind: "audio", extension: "m4a" };
  }
  if (ascii(bytes, 0, "ID3") || isMp3Frame(bytes)) return { contentType: "audio/mpeg", kind: "audio", extension: "mp3" };
  if (ascii(bytes, 0, "%PDF-")) return { contentType: "application/pdf", kind: "document", extension: "pdf" };
  return null;
}

/** The extension sniff() gives each type it recognises, by content type (a stored name may predate following it). */
const EXTENSIONS: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/gif": "gif",
  "image/webp": "webp",
  "audio/wav": "wav",
  "audio/ogg": "ogg",
  "audio/webm": "webm",
  "audio/mp4": "m4a",
  "audio/mpeg": "mp3",
  "application/pdf": "pdf",
};

/** Pure: the extension of a sniffed content type; "bin" for anything sniff() never answers. */
export const extensionOf = (contentType: string): string => EXTENSIONS[contentType] ?? "bin";

function includesAscii(bytes: Uint8Array, text: string): boolean {
  for (let i = 0; i + text.length <= bytes.length; i++) if (ascii(bytes, i, text)) return true;
  return false;
}
