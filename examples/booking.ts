// A booking platform: the platform's backend (a service token) creates the booking's chat for the
// client and the provider, posts system messages, and closes the chat when the booking ends; the
// client sends a voice note; the provider's app follows over one socket. Guide: docs/guides/booking.md.
import { ChatClient, ServiceClient, type Message } from "edge-chat/client";
import { BASE_URL, check, refusal, run, RUN, serviceToken, step, within } from "./lib/app.ts";
import { toneWav } from "./lib/wav.ts";

run("booking", async () => {
  const backend = new ServiceClient({ baseUrl: BASE_URL, token: await serviceToken("svc:bookings") });
  const clientId = `client-${RUN}`;
  const providerId = `provider-${RUN}`;

  step("backend: PUT /api/v1/users/{id} for the client and the provider, under the platform's own ids");
  await backend.upsertUser(clientId, { name: "Cleo Client", email: `cleo.${RUN}@example.com` });
  await backend.upsertUser(providerId, { name: "Pat Provider" });

  step("backend: the booking's conversation, with trusted roles and the booking as context");
  const booking = await backend.createConversation({
    type: "group",
    title: "Haircut, Friday 10:00",
    participant_ids: [clientId, providerId],
    roles: { [clientId]: "client", [providerId]: "provider" },
    context: { type: "booking", id: `b-${RUN}`, title: "Haircut" },
    metadata: { booking_id: `b-${RUN}` },
  });
  await backend.sendSystemMessage(booking.id, { content: "Booking confirmed for Friday 10:00", client_id: `confirm-${RUN}` });

  step("backend: POST /api/v1/auth/token mints each user's token (an app with cookie sessions)");
  const cleo = new ChatClient({ baseUrl: BASE_URL, token: (await backend.mintToken(clientId)).access_token });
  const pat = new ChatClient({ baseUrl: BASE_URL, token: (await backend.mintToken(providerId, 3600)).access_token });

  step("provider's app: one connection, subscribed to the booking's chat");
  const connection = pat.connect();
  const chat = connection.subscribe(booking.id, { afterSeq: 0 });
  chat.on("message", (m: Message) => console.log(`    [provider sees] #${m.seq} ${m.type}${m.sender ? ` from ${m.sender.name}` : ""}: ${m.content}`));
  await within("the provider's replay", chat.next("synced"));

  step("client: a 1.5 s voice note (WAV made in memory) in one request");
  const heard = within("the voice message", chat.next("message", (m) => m.type === "voice"));
  const voice = await cleo.sendVoiceNote(booking.id, toneWav(1.5), { name: "directions.wav", client_id: `voice-${RUN}` });
  const { attachment } = await heard;
  check(attachment?.kind === "audio" && attachment.content_type === "audio/wav", "an audio/wav attachment");
  step(`voice note: ${attachment.name}, ${attachment.size} bytes, ${attachment.duration} s (read from the audio)`);
  const audio = await pat.fetchAttachment(voice.attachment!, { headers: { Range: "bytes=0-43" } });
  check(audio.status === 206, "a 206 for a Range request on audio");

  await chat.send("Thanks, see you Friday!");
  const state = await backend.getConversation(booking.id);
  step(`backend reads unread counts: ${state.participants.map((p) => `${p.role} ${p.unread_count}`).join(", ")}`);

  step("the booking ends: the backend closes the chat and says why");
  await backend.setStatus(booking.id, "closed");
  await backend.sendSystemMessage(booking.id, { content: "This booking is complete. The chat is closed." });
  const closed = await refusal(cleo.sendMessage(booking.id, { content: "One more thing…" }));
  check(closed.code === "CONVERSATION_CLOSED" && closed.status === 409, "409 CONVERSATION_CLOSED for the client");
  const reopen = await refusal(cleo.updateConversation(booking.id, { status: "active" }));
  check(reopen.code === "FORBIDDEN", "a participant cannot reopen what the backend closed");
  step(`client's send: ${closed.status} ${closed.code}; client's reopen: ${reopen.status} ${reopen.code}`);
  connection.close();
});
