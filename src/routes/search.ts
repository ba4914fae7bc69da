import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { actorOf, conversationStub, unwrap } from "../conversation/access";
import { recentConversationIds } from "../db/conversations";
import { database } from "../db/client";
import { bearerSecurity, createApp } from "../lib/app";
import { errorResponses, jsonResponse } from "../schemas/common";
import { GlobalSearchQuerySchema, SearchResultsSchema, type HistoryPage, type SearchResults } from "../schemas/messages";

/**
 * How many of the caller's conversations one search looks in: the most recently active ones, as
 * the conversation list orders them. Each is searched by its own object, in parallel, so the
 * cost of a search is bounded whatever the number of conversations a user has.
 */
export const SEARCHED_CONVERSATIONS = 50;

type Result = SearchResults["results"][number];

/** Newest first across conversations (seqs of different conversations do not compare; times do). */
const newestFirst = (a: Result, b: Result) =>
  b.message.created_at.localeCompare(a.message.created_at) || a.conversation_id.localeCompare(b.conversation_id) || b.message.seq - a.message.seq;

export const searchRoutes = createApp();
searchRoutes.use("*", requireAuth);

const searchMessages = createRoute({
  method: "get",
  path: "/messages",
  tags: ["messages"],
  summary: "Full-text search across the caller's conversations, newest first",
  description: `Searches the caller's ${SEARCHED_CONVERSATIONS} most recently active conversations (as the conversation list orders them), each through its own conversation object, which decides access as for history: nothing outside the caller's conversations is ever returned. Words as in a conversation's search (\`GET …/messages?q=\`); deleted messages are never found. At most \`limit\` results (default 50, max 100), merged newest first.`,
  security: bearerSecurity,
  request: { query: GlobalSearchQuerySchema },
  responses: { 200: jsonResponse(SearchResultsSchema, "Matching messages with their conversation"), ...errorResponses(400, 401) },
});

searchRoutes.openapi(searchMessages, async (c) => {
  const identity = c.get("identity");
  const { q, limit } = c.req.valid("query");
  const ids = await recentConversationIds(database(c.env.DB), identity.id, SEARCHED_CONVERSATIONS);
  const actor = actorOf(identity);
  // A conversation that refuses (D1's mirror may still list one the caller just left) or fails
  // adds nothing: the answer is what the objects themselves allowed.
  const pages = await Promise.allSettled(ids.map((id) => conversationStub(c.env, id).search(actor, { q, limit })));
  const results = pages.flatMap((page, i): Result[] => {
    if (page.status === "rejected" || !page.value.ok) return [];
    const found: HistoryPage = unwrap(page.value);
    return found.messages.map((message) => ({ conversation_id: ids[i]!, message }));
  });
  return c.json({ results: results.sort(newestFirst).slice(0, limit) }, 200);
});
