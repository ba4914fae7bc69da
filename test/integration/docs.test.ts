// The user documentation in docs/ keeps up with the interface: every operation of the OpenAPI
// document, every socket frame type of both sockets, every error code with its status, every
// configuration variable and every webhook event is in it, and its pages link only to pages that
// exist and name nothing outside the repository.
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { ERROR_STATUS } from "../../src/lib/errors";
import { ClientFrameSchema, type ServerFrame } from "../../src/schemas/frames";
import { InboxClientFrameSchema } from "../../src/schemas/inbox-frames";
import type { InboxFrame } from "../../src/user/user-do";
import type { WebhookEventType } from "../../src/webhooks/events";
import { callJson } from "../helpers/api";

const pages = import.meta.glob<string>("../../docs/**/*.md", { query: "?raw", import: "default", eager: true });
const page = (name: string): string => {
  const text = pages[`../../docs/${name}`];
  if (text === undefined) throw new Error(`docs/${name} is missing`);
  return text;
};

// Types only exist at compile time: these records must name every member (a missing or an
// extra key fails `npm run typecheck`), so a new frame, variable or event cannot go unnoticed.
const SERVER_FRAMES: Record<ServerFrame["type"] | InboxFrame["type"], true> = {
  hello: true,
  "message.ack": true,
  "message.new": true,
  "message.updated": true,
  "reaction.updated": true,
  "offer.updated": true,
  delivered: true,
  typing: true,
  read: true,
  presence: true,
  "sync.batch": true,
  "sync.done": true,
  pong: true,
  error: true,
  "notification.message": true,
  unread: true,
  "friend.request": true,
  "conversation.created": true,
  subscribed: true,
  unsubscribed: true,
};

type ConfigVar = { [K in keyof Env]-?: Env[K] extends string | undefined ? K : never }[keyof Env];
const CONFIG_VARS: Record<ConfigVar, true> = {
  ENVIRONMENT: true,
  DEV_LOGIN: true,
  JWT_SECRET: true,
  JWT_JWKS_URL: true,
  JWT_ISSUER: true,
  JWT_AUDIENCE: true,
  TOKEN_TTL_SECONDS: true,
  ADMIN_EMAILS: true,
  DM_POLICY: true,
  MAX_MESSAGE_LENGTH: true,
  MAX_UPLOAD_BYTES: true,
  DEFAULT_CURRENCY: true,
  RATE_MESSAGES_PER_MIN: true,
  RATE_TYPING_PER_MIN: true,
  RATE_PINGS_PER_MIN: true,
  RATE_UPLOADS_PER_MIN: true,
  RATE_VOICE_NOTES_PER_MIN: true,
  RATE_REACTIONS_PER_MIN: true,
  RATE_CONVERSATIONS_PER_MIN: true,
  MAX_REACTIONS_PER_MESSAGE: true,
  RATE_LOGINS_PER_MIN_PER_IP: true,
  RATE_CONNECTS_PER_MIN_PER_IP: true,
  PRESENCE_GRACE_MS: true,
  TYPING_TIMEOUT_MS: true,
  CORS_ORIGINS: true,
  WEBHOOK_URL: true,
  WEBHOOK_SECRET: true,
  WEBHOOK_RETRY_BASE_SECONDS: true,
};

const WEBHOOK_EVENTS: Record<WebhookEventType, true> = {
  "message.new": true,
  "message.updated": true,
  "offer.updated": true,
  "conversation.created": true,
  "conversation.updated": true,
  "participant.added": true,
  "participant.removed": true,
  "message.unread": true,
};

const frameTypes = (schema: { options: readonly { shape: { type: { value: string } } }[] }) => schema.options.map((o) => o.shape.type.value);
/** A name as the docs write it: in backticks, alone or followed by its fields or arguments (`message.send {…}`, `join_room(id)`). */
const quoted = (name: string) => new RegExp("`" + name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "[` (]");
const missingFrom = (text: string, names: Iterable<string>) => [...names].filter((name) => !quoted(name).test(text));

describe("docs/api.md", () => {
  const api = page("api.md");

  it("names every operation of /openapi.json as `METHOD /path`", async () => {
    const { body } = await callJson<{ paths: Record<string, Record<string, unknown>> }>("/openapi.json");
    const operations = Object.entries(body.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.length).toBeGreaterThan(40);
    expect(operations.filter((operation) => !api.includes(`\`${operation}\``))).toEqual([]);
  });

  it("names every frame a client may send on either socket and every frame the server sends", () => {
    const clientFrames = new Set([...frameTypes(ClientFrameSchema), ...frameTypes(InboxClientFrameSchema)]);
    expect(clientFrames).toContain("subscribe");
    expect(missingFrom(api, clientFrames)).toEqual([]);
    expect(missingFrom(api, Object.keys(SERVER_FRAMES))).toEqual([]);
  });

  it("gives every error code with its status, and every configuration variable", () => {
    const rows = Object.entries(ERROR_STATUS).filter(([code, status]) => !api.includes(`| \`${code}\` | ${status} |`));
    expect(rows).toEqual([]);
    expect(missingFrom(api, Object.keys(CONFIG_VARS))).toEqual([]);
  });
});

describe("docs/", () => {
  it("describes every webhook event in service-and-webhooks.md", () => {
    expect(missingFrom(page("service-and-webhooks.md"), Object.keys(WEBHOOK_EVENTS))).toEqual([]);
  });

  it("has the guide of each kind of app, each mapping Socket.IO-style events to this API", () => {
    for (const guide of ["marketplace", "booking", "friends-social", "jwt-app", "book-marketplace"]) {
      const text = page(`guides/${guide}.md`);
      expect(missingFrom(text, ["join_room", "send_message", "typing_start", "mark_as_read"]), guide).toEqual([]);
    }
    page("deploy.md");
  });

  it("links only to pages that exist and refers to nothing outside the repository", () => {
    for (const [path, text] of Object.entries(pages)) {
      const folder = path.slice(0, path.lastIndexOf("/") + 1);
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+\.md)(?:#[^)]*)?\)/g)) {
        if (target!.startsWith("http")) continue;
        const resolved = new URL(target!, `file:///x/${folder.replace("../../", "")}`).pathname.replace("/x/", "../../");
        if (resolved.startsWith("../../docs/")) expect(pages[resolved], `${path} → ${target}`).toBeDefined();
      }
      expect(text, path).not.toMatch(/DESIGN\.md|\/work\/|shared folder/i);
    }
  });
});
