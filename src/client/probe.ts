import type { z } from "zod";
import type { MessageSchema } from "../schemas/messages.js";
import type { ServerFrame } from "../schemas/frames.js";
import type { InboxFrame } from "../user/user-do.js";
export type Message = z.infer<typeof MessageSchema>;
export type I = InboxFrame;
export type S = ServerFrame;
export const x = 1;
