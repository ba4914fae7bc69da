// The composer: text (Enter sends, Shift+Enter new line, Escape cancels), reply and edit
// modes, typing notifications, file and image uploads, offers, and voice notes (MediaRecorder).
import { $, formatDuration, toast } from "./dom.js";
import { snippet } from "./messages.js";

export class Composer {
  constructor(app, chat) {
    this.app = app;
    this.chat = chat;
    this.mode = null;
    this.form = $("#composer");
    this.input = $("#message-input");
    this.contextBar = $("#composer-context");
    this.contextText = $("#composer-context-text");
    this.fileInput = $("#file-input");
    this.offerForm = $("#offer-form");
    this.offerToggle = $("#offer-toggle");
    this.recordBtn = $("#record-button");
    this.recordingBar = $("#recording");
    this.recordingTime = $("#recording-time");
    this.recording = null;

    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      } else if (e.key === "Escape" && this.mode) {
        e.preventDefault();
        this.cancelMode();
      }
    });
    this.input.addEventListener("input", () => {
      this.autosize();
      if (this.input.value.trim() && this.mode?.kind !== "edit") this.chat.typing();
    });
    $("#composer-context-cancel").addEventListener("click", () => this.cancelMode());

    this.fileInput.addEventListener("change", () => {
      const files = [...this.fileInput.files];
      this.fileInput.value = "";
      const replyTo = this.replyTo();
      this.cancelMode();
      for (const file of files) void this.chat.upload(file, replyTo);
    });

    this.offerToggle.addEventListener("click", () => this.showOffer(this.offerForm.hidden));
    $("#offer-cancel").addEventListener("click", () => this.showOffer(false));
    this.offerForm.addEventListener("keydown", (e) => e.key === "Escape" && (e.stopPropagation(), this.showOffer(false)));
    this.offerForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = this.offerForm.elements;
      const amount = Number(f.amount.value);
      if (!(amount > 0)) return f.amount.focus();
      const message = f.note.value.trim();
      const submit = this.offerForm.querySelector("button[type=submit]");
      submit.disabled = true;
      const sent = await this.chat.makeOffer({ amount, currency: f.currency.value, ...(message && { message }) });
      submit.disabled = false;
      if (sent) {
        this.offerForm.reset();
        this.showOffer(false);
      }
    });

    this.recordBtn.addEventListener("click", () => void this.startRecording());
    $("#recording-cancel").addEventListener("click", () => this.stopRecording(false));
    $("#recording-send").addEventListener("click", () => this.stopRecording(true));
    this.recordingBar.addEventListener("keydown", (e) => e.key === "Escape" && this.stopRecording(false));
  }

  reset() {
    this.input.value = "";
    this.autosize();
    this.cancelMode();
    this.showOffer(false, false);
    this.stopRecording(false);
  }

  replyTo() {
    return this.mode?.kind === "reply" ? this.mode.message.id : undefined;
  }

  submit() {
    const text = this.input.value.trim();
    if (!text) return;
    if (this.mode?.kind === "edit") void this.chat.edit(this.mode.message, text);
    else this.chat.send({ content: text, ...(this.replyTo() && { reply_to: this.replyTo() }) });
    this.input.value = "";
    this.autosize();
    this.cancelMode();
    this.input.focus();
  }

  startReply(m) {
    this.mode = { kind: "reply", message: m };
    const who = m.sender_id === this.app.me.id ? "yourself" : this.app.nameOf(m.sender_id);
    this.showContext(`Replying to ${who}: ${snippet(m)}`);
  }

  startEdit(m) {
    this.mode = { kind: "edit", message: m };
    this.showContext("Editing message");
    this.input.value = m.content ?? "";
    this.autosize();
  }

  cancelMode() {
    const wasEdit = this.mode?.kind === "edit";
    this.mode = null;
    this.contextBar.hidden = true;
    this.form.classList.remove("is-editing");
    if (wasEdit) {
      this.input.value = "";
      this.autosize();
    }
  }

  showContext(text) {
    this.contextText.textContent = text;
    this.contextBar.hidden = false;
    this.form.classList.toggle("is-editing", this.mode?.kind === "edit");
    this.input.focus();
  }

  showOffer(open, focus = true) {
    this.offerForm.hidden = !open;
    this.offerToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      const ctx = this.chat.s?.conv.context;
      if (ctx?.currency) this.offerForm.elements.currency.value = ctx.currency;
      this.offerForm.elements.amount.focus();
    } else if (focus && this.offerForm.contains(document.activeElement)) this.offerToggle.focus();
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  // ── Voice notes ──

  async startRecording() {
    if (this.recording) return;
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      toast("This browser cannot record audio.", "error");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      toast("The microphone is not available (permission denied?).", "error");
      return;
    }
    const type = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"].find((t) => MediaRecorder.isTypeSupported(t));
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    const chunks = [];
    recorder.addEventListener("dataavailable", (e) => e.data.size && chunks.push(e.data));
    const started = performance.now();
    const tick = () => (this.recordingTime.textContent = formatDuration((performance.now() - started) / 1000));
    this.recording = { recorder, stream, chunks, started, timer: setInterval(tick, 250) };
    tick();
    recorder.start(250);
    this.form.classList.add("is-recording");
    this.recordingBar.hidden = false;
    $("#recording-send").focus();
  }

  stopRecording(send) {
    const rec = this.recording;
    if (!rec) return;
    this.recording = null;
    clearInterval(rec.timer);
    const refocus = this.recordingBar.contains(document.activeElement);
    this.recordingBar.hidden = true;
    this.form.classList.remove("is-recording");
    const duration = (performance.now() - rec.started) / 1000;
    const replyTo = this.replyTo();
    rec.recorder.addEventListener("stop", () => {
      for (const track of rec.stream.getTracks()) track.stop();
      if (!send) return;
      const blob = new Blob(rec.chunks, { type: rec.recorder.mimeType || "audio/webm" });
      if (!blob.size) return toast("Nothing was recorded.", "error");
      this.cancelMode();
      void this.chat.sendVoice(blob, duration, replyTo);
    });
    rec.recorder.stop();
    if (refocus) this.recordBtn.focus();
  }
}
