import { AppError } from "./errors";

/** Multipart framing (boundaries, part headers) allowed on top of the file limit. */
const MULTIPART_SLACK_BYTES = 16 * 1024;

/**
 * Reads a multipart body while counting bytes, refusing as soon as it cannot fit, so an
 * oversize upload is stopped before anything is parsed or stored.
 */
export async function readLimitedForm(request: Request, maxFileBytes: number): Promise<FormData> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data/i.test(type)) {
    throw new AppError("VALIDATION_ERROR", "body: send multipart/form-data", { details: [{ field: "body", message: "send multipart/form-data" }] });
  }
  const limit = maxFileBytes + MULTIPART_SLACK_BYTES;
  const tooLarge = () => new AppError("FILE_TOO_LARGE", `files are limited to ${maxFileBytes} bytes`);
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  if (!request.body) throw new AppError("VALIDATION_ERROR", "body: empty", { details: [{ field: "body", message: "empty" }] });

  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return await new Response(body, { headers: { "content-type": type } }).formData();
  } catch {
    throw new AppError("VALIDATION_ERROR", "body: malformed multipart body", { details: [{ field: "body", message: "malformed multipart body" }] });
  }
}

/**
 * Characters a file name never keeps: C0 and C1 controls, double quotes, and the invisible
 * bidirectional marks, embeddings, overrides and isolates that make `gpj.exe` look like `exe.jpg`.
 */
const UNSAFE_IN_NAMES = /[\u0000-\u001f\u007f-\u009f"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Extensions that name the same type as the sniffed one (which is the first spelling). */
const SAME_TYPE: Record<string, string[]> = { jpg: ["jpeg"] };

/** A file name's length in characters (Unicode code points), extension included. */
const MAX_NAME_CHARS = 200;

/**
 * Pure: the name a file is stored, listed and offered for saving under. No directories, no
 * control or bidirectional-formatting characters, at most 200 characters, and it always ends
 * in the extension of the type sniffed from the bytes (`report.html` holding a PDF becomes
 * `report.pdf`, a name without one gets it added), so saving it never yields a file that
 * opens as something else.
 */
export function cleanFileName(name: string, extension: string): string {
  const base = (name.split(/[\\/]/).pop() ?? "").toWellFormed().replace(UNSAFE_IN_NAMES, "");
  // Leading dots would hide the file; trailing dots and spaces, dropped by some systems, would reveal what precedes them.
  const trimmed = base.replace(/^[\s.]+|[\s.]+$/g, "");
  const parts = /^(.+)\.([a-z0-9]{1,10})$/i.exec(trimmed);
  const given = parts?.[2]!.toLowerCase();
  const sameType = given !== undefined && (given === extension || (SAME_TYPE[extension]?.includes(given) ?? false));
  const suffix = `.${sameType ? given : extension}`;
  const stem = (parts ? parts[1]! : trimmed).replace(/[\s.]+$/, "");
  const bounded = Array.from(stem).slice(0, MAX_NAME_CHARS - suffix.length).join("").trimEnd();
  return `${bounded || "file"}${suffix}`;
}

export type ByteRange = { offset: number; length: number };

/**
 * Pure: a single `bytes=` range against a known size. null means "serve the whole file"
 * (absent or unparseable header, as HTTP allows); "unsatisfiable" means 416.
 */
export function parseRange(header: string | null, size: number): ByteRange | null | "unsatisfiable" {
  const match = header?.match(/^bytes=(\d*)-(\d*)$/);
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { offset: start, length: end - start + 1 };
}
