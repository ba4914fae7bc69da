// The web chat page (public/index.html + public/app.js over the SDK) in headless Chromium against
// a real `wrangler dev`: two people in two browser contexts log in, one starts a conversation
// about a product, messages flow both ways, the typing indicator and read ticks appear, a
// reaction and an accepted offer show on both sides, an uploaded image displays, and a voice note
// recorded from Chromium's fake microphone plays back — and each page does all of it over one
// WebSocket (the inbox socket, carrying the open conversation). Then what people wrote shows as
// written: line breaks kept, web addresses as links (markup never parsed), `:heart:` and ❤️ as one
// reaction, read ticks after a reload, typing announced right after a send, and two conversations
// with the same person told apart by their product. Screenshots are saved to test-results/web/
// (alice.png and bob.png at the end of the first, display-*.png in the second, one per step).
//
// Needs Debian's chromium at /usr/bin/chromium (driven by playwright-core); skipped without it.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../../scripts/dev-server.ts";
import { inWorkerd, startTestServer } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(import.meta.dirname, "..", "..", "test-results", "web");

describe.skipIf(inWorkerd || !existsSync(CHROMIUM))("web chat page in headless Chromium", () => {
  let server: DevServer;
  let browser: Browser;
  const run = Date.now();
  const pageErrors = new Map<Page, string[]>();
  /** The WebSockets each page opened (their URLs). */
  const pageSockets = new Map<Page, string[]>();
  /** The frames each page sent on them, parsed. */
  const pageFrames = new Map<Page, { type?: string }[]>();
  const email = (name: string) => `${name}-${run}@web.test`;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startTestServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A fresh browser context (its own storage: its own person), logged in through the form. */
  async function login(name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
    await context.grantPermissions(["microphone"], { origin: server.url });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    pageErrors.set(page, errors);
    const sockets: string[] = [];
    const frames: { type?: string }[] = [];
    page.on("websocket", (ws) => {
      sockets.push(new URL(ws.url()).pathname);
      ws.on("framesent", ({ payload }) => typeof payload === "string" && frames.push(JSON.parse(payload) as { type?: string }));
    });
    pageSockets.set(page, sockets);
    pageFrames.set(page, frames);
    await page.goto(`${server.url}/`);
    await page.getByLabel("Email", { exact: true }).fill(email(name));
    await page.getByLabel(/Display name/).fill(name[0]!.toUpperCase() + name.slice(1));
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByTestId("me-name").waitFor();
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });
  const message = (page: Page, text: string | RegExp): Locator => page.getByTestId("message").filter({ hasText: text });
  const ownReceipt = (page: Page, text: string, status: string) => message(page, text).locator(`[data-testid=receipt][data-status=${status}]`);

  it("two people chat: messages, typing, read ticks, reaction, offer, image, voice note", async () => {
    const [alice, bob] = await Promise.all([login("alice"), login("bob")]);

    // Alice starts a conversation with Bob about a product.
    await alice.getByRole("button", { name: "New conversation" }).click();
    await alice.getByLabel("Their email").fill(email("bob"));
    await alice.getByLabel("Product id").fill("bike-42");
    await alice.getByLabel("Product title").fill("Vintage road bike");
    await alice.getByRole("button", { name: "Start", exact: true }).click();
    expect(await alice.getByTestId("chat-title").textContent()).toBe("Bob");

    // Alice → Bob: Bob sees the conversation appear with an unread badge, and Bob online.
    const hello = "Hi Bob! Is the bike still available?";
    await alice.getByLabel("Message", { exact: true }).fill(hello);
    await alice.keyboard.press("Enter");
    await ownReceipt(alice, hello, "delivered").waitFor(); // ✓✓: it reached Bob's open page as a notification, unread
    const bobItem = bob.getByTestId("conversation-item").filter({ hasText: "Alice" });
    await bobItem.getByTestId("unread-badge").filter({ hasText: "1" }).waitFor();
    expect(await bobItem.textContent()).toContain("Vintage road bike");
    await shot(bob, "01-bob-unread");

    // Bob opens it: the message is there, and Alice's tick turns into a read tick.
    await bobItem.click();
    await message(bob, hello).waitFor();
    await ownReceipt(alice, hello, "read").waitFor();
    await bobItem.getByTestId("unread-badge").waitFor({ state: "detached" });
    await alice.locator("[data-testid=chat-presence][data-online=true]").waitFor();

    // Bob types: Alice sees "Bob is typing…"; Bob sends: the indicator goes and the reply arrives.
    const reply = "Yes it is — just serviced, new tyres.";
    await bob.getByLabel("Message", { exact: true }).pressSequentially("Yes it is", { delay: 20 });
    await alice.getByTestId("typing-indicator").filter({ hasText: "Bob is typing" }).waitFor();
    await shot(alice, "02-alice-sees-typing");
    await bob.getByLabel("Message", { exact: true }).fill(reply);
    await bob.getByRole("button", { name: "Send", exact: true }).click();
    await message(alice, reply).waitFor();
    await alice.getByTestId("typing-indicator").filter({ hasText: "typing" }).waitFor({ state: "detached" });
    await ownReceipt(bob, reply, "read").waitFor();

    // Bob reacts 👍 to Alice's first message: both sides show it with its count.
    await message(bob, hello).hover();
    await message(bob, hello).getByRole("button", { name: "Add reaction" }).click();
    await bob.getByRole("button", { name: "React with 👍" }).click();
    for (const page of [alice, bob]) {
      await message(page, hello).locator("[data-testid=reaction][data-emoji='👍']").filter({ hasText: "1" }).waitFor();
    }

    // Alice makes an offer; Bob accepts it; both sides show it accepted.
    await alice.getByRole("button", { name: "Make an offer" }).click();
    await alice.getByLabel("Amount").fill("250");
    await alice.getByRole("button", { name: "Send offer" }).click();
    const bobOffer = bob.getByTestId("offer").filter({ hasText: "250" });
    await bobOffer.locator("[data-testid=offer-status]", { hasText: "Pending" }).waitFor();
    await alice.getByTestId("offer").filter({ hasText: "250" }).getByRole("button", { name: "Withdraw" }).waitFor();
    await shot(bob, "03-bob-offer-pending");
    await bobOffer.getByRole("button", { name: "Accept" }).click();
    for (const page of [alice, bob]) {
      await page.locator("[data-testid=offer][data-status=accepted]").filter({ hasText: "250" }).waitFor();
      await page.getByTestId("system-message").filter({ hasText: "Offer accepted" }).waitFor();
    }
    expect(await bob.getByTestId("offer").getByRole("button", { name: "Accept" }).count()).toBe(0);

    // Alice uploads an image (drawn on a canvas): it displays on both sides.
    const png = await alice.evaluate(() => {
      const canvas = document.createElement("canvas");
      canvas.width = 320;
      canvas.height = 200;
      const g = canvas.getContext("2d")!;
      const gradient = g.createLinearGradient(0, 0, 320, 200);
      gradient.addColorStop(0, "#2a55d4");
      gradient.addColorStop(1, "#12a150");
      g.fillStyle = gradient;
      g.fillRect(0, 0, 320, 200);
      g.fillStyle = "#fff";
      g.font = "bold 28px sans-serif";
      g.fillText("Vintage road bike", 34, 110);
      return canvas.toDataURL("image/png").split(",")[1]!;
    });
    await alice.getByLabel("Attach a photo or file").setInputFiles({ name: "bike.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") });
    for (const page of [alice, bob]) {
      const img = page.getByTestId("message-image");
      await img.waitFor();
      await page.waitForFunction(() => {
        const el = document.querySelector<HTMLImageElement>("[data-testid=message-image]");
        return !!el && el.complete && el.naturalWidth === 320;
      });
    }

    // Alice records a voice note with Chromium's fake microphone (a beep); both sides can play it.
    const canRecord = await alice.evaluate(() => typeof MediaRecorder !== "undefined" && MediaRecorder.isTypeSupported("audio/webm"));
    if (canRecord) {
      await alice.getByRole("button", { name: "Record a voice note" }).click();
      await alice.getByTestId("recording").waitFor();
      await alice.waitForTimeout(1500);
      await alice.getByRole("button", { name: "Send voice note" }).click();
      for (const page of [alice, bob]) {
        await page.getByTestId("voice-note").waitFor();
        // The audio element loads the bytes through the authenticated attachment URL.
        await page.waitForFunction(() => (document.querySelector<HTMLAudioElement>("[data-testid=voice-note]")?.readyState ?? 0) >= 1);
      }
    }
    // Without MediaRecorder (not the case in current Chromium) the voice-note step is skipped.

    // Everything arrived in both windows; read ticks on both sides' own messages.
    await ownReceipt(alice, hello, "read").waitFor();
    for (const page of [alice, bob]) {
      await page.mouse.move(1, 1); // no hover toolbar in the pictures
      await page.locator("#messages").evaluate((el) => (el.scrollTop = el.scrollHeight));
    }
    await alice.waitForTimeout(300);
    await Promise.all([shot(alice, "alice"), shot(bob, "bob")]);
    expect(pageErrors.get(alice)).toEqual([]);
    expect(pageErrors.get(bob)).toEqual([]);
    // Both pages did all of it over one connection each: the inbox socket.
    expect(pageSockets.get(alice)).toEqual(["/api/v1/ws"]);
    expect(pageSockets.get(bob)).toEqual(["/api/v1/ws"]);
  }, 80_000);

  it("shows what was written as written: line breaks, links, reactions by short name, ticks after a reload, typing after a send, conversations told apart", async () => {
    const [carol, dan] = await Promise.all([login("carol"), login("dan")]);
    const sent = pageFrames.get(carol)!;

    // Two conversations with Dan, about two products: the list tells them apart.
    for (const [id, title] of [["bike-blue", "Blue bike"], ["scooter-red", "Red scooter"]] as const) {
      await carol.getByRole("button", { name: "New conversation" }).click();
      await carol.getByLabel("Their email").fill(email("dan"));
      await carol.getByLabel("Product id").fill(id);
      await carol.getByLabel("Product title").fill(title);
      await carol.getByRole("button", { name: "Start", exact: true }).click();
      await carol.locator(".chat-heading", { hasText: title }).waitFor();
    }
    const labels = await carol.getByTestId("conversation-item").evaluateAll((items) => items.map((item) => item.getAttribute("data-title")));
    expect(labels.sort()).toEqual(["Dan · Product: Blue bike", "Dan · Product: Red scooter"]);
    await carol.getByTestId("conversation-item").filter({ hasText: "Blue bike" }).click();
    await carol.locator(".chat-heading", { hasText: "Blue bike" }).waitFor();

    // Two lines, a link and markup-like text: the lines stay apart, the link opens in a new tab,
    // and the markup is shown as text, never parsed.
    const input = carol.getByLabel("Message", { exact: true });
    await input.pressSequentially("Is it still for sale?");
    await input.press("Shift+Enter");
    await input.pressSequentially("Photos: https://example.com/bikes/blue?id=1. <img src=x onerror=alert(1)>");
    await input.press("Enter");
    const note = message(carol, "Is it still for sale?");
    await note.waitFor();
    const text = note.locator(".text");
    expect(await text.innerText()).toBe("Is it still for sale?\nPhotos: https://example.com/bikes/blue?id=1. <img src=x onerror=alert(1)>");
    const lineHeight = await text.evaluate((el) => parseFloat(getComputedStyle(el).lineHeight));
    expect((await text.boundingBox())!.height).toBeGreaterThan(1.5 * lineHeight);
    const link = text.getByRole("link", { name: "https://example.com/bikes/blue?id=1" });
    expect(await link.getAttribute("href")).toBe("https://example.com/bikes/blue?id=1");
    expect(await link.getAttribute("target")).toBe("_blank");
    expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(await text.locator("img").count()).toBe(0);

    // Dan reads it and reacts with the short name `:heart:` (as another app may send); Carol
    // with ❤️ from the picker: one chip, counting both.
    const danItem = dan.getByTestId("conversation-item").filter({ hasText: "Blue bike" });
    await danItem.click();
    await message(dan, "Is it still for sale?").waitFor();
    await ownReceipt(carol, "Is it still for sale?", "read").waitFor();
    const messageId = (await note.getAttribute("id"))!.replace(/^msg-/, "");
    const conversationId = new URL(dan.url()).hash.replace("#/c/", "");
    const reacted = await dan.evaluate(
      async (path) => (await fetch(path, { method: "PUT", headers: { authorization: `Bearer ${localStorage.getItem("edge-chat.token")}` } })).status,
      `/api/v1/conversations/${conversationId}/messages/${messageId}/reactions/${encodeURIComponent(":heart:")}`,
    );
    expect(reacted).toBe(200);
    await note.locator("[data-testid=reaction][data-emoji='❤️']").filter({ hasText: "1" }).waitFor();
    await note.hover();
    await note.getByRole("button", { name: "Add reaction" }).click();
    await carol.getByRole("button", { name: "React with ❤️" }).click();
    for (const page of [carol, dan]) {
      const chips = message(page, "Is it still for sale?").getByTestId("reaction");
      await chips.filter({ hasText: "2" }).waitFor();
      expect(await chips.count()).toBe(1);
      expect(await chips.textContent()).toContain("❤️");
    }

    // Typing right after a send is announced at once (not after the 3 s throttle).
    await input.pressSequentially("One more", { delay: 20 });
    await input.press("Enter");
    await message(dan, "One more").waitFor();
    const startsBefore = sent.filter((frame) => frame.type === "typing.start").length;
    await input.pressSequentially("And", { delay: 20 });
    await dan.getByTestId("typing-indicator").filter({ hasText: "Carol is typing" }).waitFor({ timeout: 1_500 });
    expect(sent.filter((frame) => frame.type === "typing.start").length).toBe(startsBefore + 1);
    await shot(carol, "display-carol");
    await shot(dan, "display-dan");

    // After a reload, Carol's messages keep their read ticks (from the history's `status`).
    await ownReceipt(carol, "One more", "read").waitFor();
    await input.fill("");
    await carol.reload();
    await message(carol, "One more").waitFor();
    await ownReceipt(carol, "One more", "read").waitFor({ timeout: 5_000 });
    expect(await carol.locator("[data-testid=receipt][data-status=read]").count()).toBe(2);
    await carol.getByTestId("conversation-item").filter({ hasText: "Blue bike" }).filter({ hasText: "You: One more" }).waitFor();
    await carol.mouse.move(1, 1);
    await shot(carol, "display-carol-reloaded");
    expect(pageErrors.get(carol)).toEqual([]);
    expect(pageErrors.get(dan)).toEqual([]);
  }, 60_000);
});
