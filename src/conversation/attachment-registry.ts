import type { Attachment } from "../schemas/attachments";

/**
 * Attachments uploaded to this conversation (the Worker registers each after storing it in R2
 * and D1), so a send over the socket can resolve `attachment_id` without leaving the object.
 * Each attachment is used by at most one message, by its uploader.
 */
export class AttachmentRegistry {
  /** Whether a withdrawal is not in D1 yet; null when not known (asked of storage). Asked every summary round. */
  private withdrawalsUnmirrored: boolean | null = null;

  constructor(private readonly sql: SqlStorage) {}

  register(attachment: Attachment): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO attachments (id, uploader_id, info) VALUES (?, ?, ?)",
      attachment.id,
      attachment.uploader_id,
      JSON.stringify(attachment),
    );
  }

  /** Forgets an upload whose message was refused (only while no message uses it). */
  discard(id: string): void {
    this.sql.exec("DELETE FROM attachments WHERE id = ? AND seq IS NULL", id);
  }

  /** The attachment if `userId` uploaded it here and no message uses it yet. */
  claimable(id: string, userId: string): Attachment | null {
    const row = this.sql
      .exec<{ info: string }>("SELECT info FROM attachments WHERE id = ? AND uploader_id = ? AND seq IS NULL AND withdrawn = 0", id, userId)
      .toArray()[0];
    return row ? (JSON.parse(row.info) as Attachment) : null;
  }

  bind(id: string, seq: number): void {
    this.sql.exec("UPDATE attachments SET seq = ? WHERE id = ?", seq, id);
  }

  /** The message carrying it was deleted: D1 must learn it so downloads stop. */
  withdraw(seq: number): void {
    this.sql.exec("UPDATE attachments SET withdrawn = 1, mirrored = 0 WHERE seq = ?", seq);
    this.withdrawalsUnmirrored = null;
  }

  hasUnmirroredWithdrawals(): boolean {
    this.withdrawalsUnmirrored ??= this.unmirroredWithdrawals().length > 0;
    return this.withdrawalsUnmirrored;
  }

  unmirroredWithdrawals(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM attachments WHERE withdrawn = 1 AND mirrored = 0")
      .toArray()
      .map((r) => r.id);
  }

  markMirrored(ids: string[]): void {
    for (const id of ids) this.sql.exec("UPDATE attachments SET mirrored = 1 WHERE id = ?", id);
    if (ids.length > 0) this.withdrawalsUnmirrored = null;
  }

  /** A transaction rolled back: learned again from storage when next asked. */
  forget(): void {
    this.withdrawalsUnmirrored = null;
  }
}
