/**
 * Socket protocol constants of the server side, shared by the conversation and user objects.
 * The SDK (src/client) keeps its own copies because it may import nothing from outside itself
 * at run time; test/unit/protocol.test.ts holds the two equal.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Close codes beyond the standard ones. */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_REMOVED = 4003;
