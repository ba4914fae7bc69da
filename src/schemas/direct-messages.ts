import { z } from "@hono/zod-openapi";
import { CreateConversationBodySchema } from "./conversations";
import { IdSchema } from "./common";
import { MessageSchema, SendInputSchema } from "./messages";

const create = CreateConversationBodySchema.shape;

/** POST /api/v1/messages: a send to a person, opening the direct conversation with them when needed. */
export const SendToPersonBodySchema = SendInputSchema.extend({
  to_user_id: IdSchema.optional(),
  to_email: z.email().max(254).transform((e) => e.toLowerCase()).optional(),
  context: create.context.openapi({ description: "The direct conversation for this context (a product, a booking …)" }),
  roles: create.roles.openapi({ description: "Applied only when the conversation is created" }),
  metadata: create.metadata.openapi({ description: "Applied only when the conversation is created" }),
})
  .superRefine((body, ctx) => {
    if ((body.to_user_id === undefined) === (body.to_email === undefined)) {
      ctx.addIssue({ code: "custom", path: ["to_user_id"], message: "name the person with either to_user_id or to_email" });
    }
  })
  .openapi("SendToPersonBody");
export type SendToPersonBody = z.infer<typeof SendToPersonBodySchema>;

export const SentToPersonSchema = z
  .object({ conversation_id: z.string(), created_conversation: z.boolean(), message: MessageSchema })
  .openapi("SentToPerson");
export type SentToPerson = z.infer<typeof SentToPersonSchema>;
