import { eq } from "drizzle-orm";
import type { Db } from "./client";
import { attachments } from "./schema";

export type AttachmentRow = typeof attachments.$inferSelect;

export async function insertAttachment(db: Db, row: typeof attachments.$inferInsert): Promise<void> {
  await db.insert(attachments).values(row).run();
}

export async function findAttachment(db: Db, id: string): Promise<AttachmentRow | undefined> {
  return db.select().from(attachments).where(eq(attachments.id, id)).get();
}

export async function deleteAttachment(db: Db, id: string): Promise<void> {
  await db.delete(attachments).where(eq(attachments.id, id)).run();
}
