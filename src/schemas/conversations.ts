import { z } from "@hono/zod-openapi";
import { boundedObject, HttpUrl, IdSchema, IsoTime } from "./common";
import { MessageSchema } from "./messages";

export const ParticipantRoleSchema = z.enum(["buyer", "seller", "client", "provider", "member"]);
export type ParticipantRole = z.infer<typeof ParticipantRoleSchema>;
export const ConversationTypeSchema = z.enum(["direct", "group"]);
export const ConversationStatusSchema = z.enum(["active", "closed"]);

export const ContextSchema = z
  .strictObject({
    type: z.string().trim().min(1).max(64),
    id: z.string().trim().min(1).max(128),
    title: z.string().max(200).optional(),
    price: z.number().nonnegative().optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO-4217 code such as USD").optional(),
    image_url: HttpUrl.optional(),
  })
  .openapi("ConversationContext");
export type ConversationContext = z.infer<typeof ContextSchema>;

/** Conversation answers list this many participants at most (a group may have thousands); `participant_count` is the total. */
export const PARTICIPANTS_LISTED = 100;

/** Conversations up to this size make their participants each other's presence contacts; bigger groups send no presence frames. */
export const PRESENCE_GROUP_LIMIT = 100;

export const ParticipantSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    avatar_url: z.string().nullable(),
    role: ParticipantRoleSchema,
    online: z.boolean(),
    /** Only on single-conversation answers (GET/PATCH /conversations/{id}, adding a participant), from the conversation itself. */
    last_read_seq: z.number().int().optional(),
    unread_count: z.number().int().optional(),
  })
  .openapi("Participant");

export const ConversationSchema = z
  .object({
    id: z.string(),
    type: ConversationTypeSchema,
    title: z.string().nullable(),
    status: ConversationStatusSchema,
    context: ContextSchema.nullable(),
    metadata: z.record(z.string(), z.unknown()),
    /** At most PARTICIPANTS_LISTED, in join order; `participant_count` is the total. */
    participants: z.array(ParticipantSchema),
    participant_count: z.number().int(),
    last_message: MessageSchema.nullable(),
    last_message_at: IsoTime.nullable(),
    last_seq: z.number().int(),
    unread_count: z.number().int(),
    created_by: z.string(),
    created_at: IsoTime,
    updated_at: IsoTime,
  })
  .openapi("Conversation");
export type Conversation = z.infer<typeof ConversationSchema>;

const Metadata = boundedObject(4 * 1024);

export const CreateConversationBodySchema = z
  .strictObject({
    type: ConversationTypeSchema,
    participant_ids: z.array(IdSchema).max(100).optional(),
    participant_emails: z.array(z.email().max(254).transform((e) => e.toLowerCase())).max(100).optional(),
    title: z.string().trim().min(1).max(200).optional(),
    context: ContextSchema.optional(),
    roles: z.record(IdSchema, ParticipantRoleSchema).optional(),
    metadata: Metadata.optional(),
  })
  .openapi("CreateConversationBody");
export type CreateConversationBody = z.infer<typeof CreateConversationBodySchema>;

export const PatchConversationBodySchema = z
  .object({
    title: z.string().trim().min(1).max(200).nullable().optional(),
    status: ConversationStatusSchema.optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .openapi("PatchConversationBody");

export const ListConversationsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(512).optional(),
  status: ConversationStatusSchema.optional(),
  context_type: z.string().max(64).optional(),
  context_id: z.string().max(128).optional(),
});

export const ConversationListSchema = z
  .object({ conversations: z.array(ConversationSchema), next_cursor: z.string().nullable() })
  .openapi("ConversationList");

/** The app's backend and admins set a participant's role; participants cannot change it afterwards. */
export const SetRoleBodySchema = z.strictObject({ role: ParticipantRoleSchema }).openapi("SetRoleBody");

export const AddParticipantBodySchema = z
  .strictObject({ user_id: IdSchema, role: ParticipantRoleSchema.optional() })
  .openapi("AddParticipantBody");

export const UnreadSchema = z
  .object({
    unread_count: z.number().int(),
    conversations: z.array(z.object({ id: z.string(), unread_count: z.number().int() })),
  })
  .openapi("Unread");

export const ConversationStatsSchema = z
  .object({
    messages: z.number().int(),
    last_seq: z.number().int(),
    frames_sent: z.number().int(),
    d1_flushes: z.number().int(),
    d1_statements: z.number().int(),
    d1_rows_written: z.number().int(),
    inbox_calls: z.number().int(),
    queue_sends: z.number().int(),
    storage_rows_written: z.number().int(),
  })
  .openapi("ConversationStats");
