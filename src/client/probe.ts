import type { z } from "zod";
import type { MessageSchema } from "../schemas/messages.js";
import type { InboxFrame } from "../user/user-do.js";
export type M = z.infer<typeof MessageSchema>;
export type I = InboxFrame;
export const x = 1;
