// What the chat view does on the person's behalf: send, edit, delete, react, answer and make
// offers, upload files and voice notes. Over the connection first; REST when it is not open.
import { newClientId } from "/sdk/index.js";
import { describeError, toast } from "./dom.js";

/** The base of ChatView: expects `this.app`, `this.s` (the open conversation) and `renderPending(s)`. */
export class ChatActions {
  send(fields) {
    const s = this.s;
    if (!s) return;
    s.stick = true;
    if (s.live) void s.live.send(fields).catch(() => {});
    else {
      // History is still loading (the subscription starts after it): hold the send until then.
      s.held.push(fields);
      this.renderPending(s);
    }
  }

  typing() {
    this.s?.live?.typing();
  }

  async edit(m, content) {
    const s = this.s;
    if (!s || content === m.content) return;
    if (!s.live?.edit(m.id, content)) await this.app.client.editMessage(s.id, m.id, content).catch((e) => toast(describeError(e), "error"));
  }

  async remove(m) {
    const s = this.s;
    if (!s || !confirm("Delete this message for everyone?")) return;
    if (!s.live?.deleteMessage(m.id)) await this.app.client.deleteMessage(s.id, m.id).catch((e) => toast(describeError(e), "error"));
  }

  async react(m, emoji, add) {
    const s = this.s;
    if (!s || s.live?.react(m.id, emoji, add)) return;
    const call = add ? this.app.client.addReaction(s.id, m.id, emoji) : this.app.client.removeReaction(s.id, m.id, emoji);
    await call.catch((e) => toast(describeError(e), "error"));
  }

  async respondToOffer(m, action, amount) {
    const s = this.s;
    if (!s) return;
    const body = action === "counter" ? { action, counter_amount: amount } : { action };
    await this.app.client.respondToOffer(s.id, m.data.offer_id, body).catch((e) => toast(describeError(e), "error"));
  }

  async makeOffer(body) {
    const s = this.s;
    if (!s) return false;
    const ctx = s.conv.context;
    if (ctx?.type === "product") body.product_id = ctx.id;
    try {
      await this.app.client.makeOffer(s.id, { ...body, client_id: newClientId() });
      return true;
    } catch (err) {
      toast(`Offer not sent: ${describeError(err)}`, "error");
      return false;
    }
  }

  /** Runs an upload while showing a pending bubble for it. */
  async withUpload(label, work) {
    const s = this.s;
    if (!s) return;
    const item = { label };
    s.uploads.push(item);
    this.renderPending(s);
    try {
      await work(s);
    } catch (err) {
      toast(`${label.replace(/…$/, "")} failed: ${describeError(err)}`, "error");
    } finally {
      s.uploads = s.uploads.filter((x) => x !== item);
      if (this.s === s) this.renderPending(s);
    }
  }

  upload(file, replyTo) {
    return this.withUpload(`Uploading ${file.name}…`, async (s) => {
      const attachment = await this.app.client.uploadAttachment(s.id, file, { name: file.name });
      if (this.s === s) this.send({ content: "", attachment_id: attachment.id, ...(replyTo && { reply_to: replyTo }) });
    });
  }

  sendVoice(blob, duration, replyTo) {
    const ext = blob.type.includes("ogg") ? "ogg" : blob.type.includes("mp4") ? "m4a" : "webm";
    return this.withUpload("Sending voice note…", (s) =>
      this.app.client.sendVoiceNote(s.id, blob, { duration: Math.max(0.1, Math.round(duration * 10) / 10), name: `voice-note.${ext}`, client_id: newClientId(), ...(replyTo && { reply_to: replyTo }) }),
    );
  }
}
