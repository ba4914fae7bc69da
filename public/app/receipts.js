// Receipts of your own messages, from horizons per participant: ✓ sent (stored), ✓✓ delivered
// (reached a socket of theirs, or they fetched it), blue ✓✓ read (under their read cursor).
// Learned from the messages themselves (history's `status` on your own; their own messages, as
// sending reads what came before) and moved by `delivered` and `read` frames.
export class Receipts {
  constructor(meId, participantIds) {
    this.meId = meId;
    this.others = participantIds.filter((id) => id !== meId);
    this.horizons = new Map();
  }

  /** Moves a participant's horizons forward; true when something changed. */
  move(userId, delivered, read) {
    if (!this.others.includes(userId)) return false;
    const before = this.horizons.get(userId) ?? { delivered: 0, read: 0 };
    const after = { delivered: Math.max(before.delivered, delivered, read), read: Math.max(before.read, read) };
    this.horizons.set(userId, after);
    return after.delivered !== before.delivered || after.read !== before.read;
  }

  /**
   * What a message says about the horizons: on your own, a history page's `status` is how far
   * every other participant has got (delivered or read); someone's own has read all before it.
   */
  learn(m) {
    if (m.sender_id !== this.meId) return m.sender_id ? this.move(m.sender_id, m.seq, m.seq) : false;
    if (m.status !== "delivered" && m.status !== "read") return false;
    const read = m.status === "read" ? m.seq : 0;
    return this.others.map((id) => this.move(id, m.seq, read)).some(Boolean);
  }

  /** "sent" | "delivered" | "read" for your message at `seq` (read and delivered by everyone else). */
  statusOf(seq) {
    if (!this.others.length) return "sent";
    const all = this.others.map((id) => this.horizons.get(id) ?? { delivered: 0, read: 0 });
    if (all.every((x) => x.read >= seq)) return "read";
    if (all.every((x) => x.delivered >= seq)) return "delivered";
    return "sent";
  }
}
