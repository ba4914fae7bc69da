import { z } from "@hono/zod-openapi";
import { IdSchema, IsoTime } from "./common";

const Amount = z
  .number()
  .positive()
  .max(1_000_000_000)
  .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, { message: "must have at most 2 decimals" });

const Currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO-4217 code such as USD");

export const OfferStatusSchema = z.enum(["pending", "accepted", "rejected", "countered", "withdrawn"]);
export const OfferActionSchema = z.enum(["accept", "reject", "counter", "withdraw"]);

export const OfferSchema = z
  .object({
    id: z.string(),
    conversation_id: z.string(),
    message_id: z.string(),
    offerer_id: z.string(),
    amount: z.number(),
    currency: z.string(),
    product_id: z.string().nullable(),
    status: OfferStatusSchema,
    counter_of: z.string().nullable(),
    responded_by: z.string().nullable(),
    created_at: IsoTime,
    updated_at: IsoTime,
  })
  .openapi("Offer");
export type Offer = z.infer<typeof OfferSchema>;

export const CreateOfferBodySchema = z
  .strictObject({
    amount: Amount,
    currency: Currency.optional(),
    product_id: IdSchema.optional(),
    message: z.string().trim().max(1000).optional(),
    client_id: z.string().trim().min(1).max(128).optional(),
  })
  .openapi("CreateOfferBody");
export type CreateOfferInput = z.infer<typeof CreateOfferBodySchema>;

export const RespondOfferBodySchema = z
  .strictObject({
    action: OfferActionSchema,
    counter_amount: Amount.optional(),
    message: z.string().trim().max(1000).optional(),
  })
  .refine((b) => b.action !== "counter" || b.counter_amount !== undefined, {
    message: "a counter needs counter_amount",
    path: ["counter_amount"],
  })
  .openapi("RespondOfferBody");
export type RespondOfferInput = z.infer<typeof RespondOfferBodySchema>;
