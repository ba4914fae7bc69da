// Receipts of your own messages, from horizons per participant: ✓ sent (stored), ✓✓ delivered
// (reached a socket of theirs, or they fetched it), blue ✓✓ read (under their read cursor).
// Seeded from the receipts of your newest message; moved by `message.new` (delivered_to),
// `delivered` and `read` frames, and by their own messages (sending reads what came before).
export class Receipts {
  constructor(meId, participantIds) {
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

  /** "sent" | "delivered" | "read" for your message at `seq` (read and delivered by everyone else). */
  statusOf(seq) {
    if (!this.others.length) return "sent";
    const all = this.others.map((id) => this.horizons.get(id) ?? { delivered: 0, read: 0 });
    if (all.every((x) => x.read >= seq)) return "read";
    if (all.every((x) => x.delivered >= seq)) return "delivered";
    return "sent";
  }

  /** Asks the server for the receipts of your newest message among `messages`. */
  async seed(client, conversationId, meId, messages) {
    const mine = messages.findLast((m) => m.sender_id === meId && m.type !== "system");
    if (!mine) return;
    try {
      const { receipts } = await client.receipts(conversationId, mine.id);
      for (const r of receipts) this.move(r.user_id, r.status === "sent" ? 0 : mine.seq, r.status === "read" ? mine.seq : 0);
    } catch {
      // the ticks stay at "sent" until frames move them
    }
  }
}
