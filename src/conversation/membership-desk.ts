import { nowIso } from "../lib/ids";
import { CLOSE_REMOVED } from "../lib/protocol";
import { PARTICIPANTS_LISTED, type ParticipantRole } from "../schemas/conversations";
import type { Profile } from "../schemas/messages";
import { fail, isModerator, ok, type Actor, type Conversation, type Result } from "./conversation";
import type { ConversationStatus, NewConversation, Refusal } from "./membership";

/** Someone to add, with what the Worker knows of them from D1. */
export interface NewParticipant {
  userId: string;
  role: ParticipantRole | undefined;
  /** The user exists. */
  known: boolean;
  /** The user has blocked the one adding them. */
  blockedCaller: boolean;
  /** Their name and avatar now (null for an unknown user). */
  profile: Profile | null;
  /** An inbox of theirs is open as D1 says (written before the inbox is answered): only then is their object asked. */
  inboxOpen: boolean;
}

/** What a route needs to know of the conversation after a change (or to answer GET), as the object has it now. */
export interface ConversationState {
  id: string;
  type: "direct" | "group";
  status: ConversationStatus;
  createdBy: string;
  version: number;
  lastSeq: number;
  isParticipant: boolean;
  /** The viewer's unread count (0 for a viewer who is not a participant). */
  viewerUnread: number;
  participantCount: number;
  /** The first PARTICIPANTS_LISTED participants by join order, with their effective read cursors. */
  participants: { id: string; role: ParticipantRole; lastReadSeq: number; unreadCount: number }[];
}

/**
 * Changes to who takes part and whether the conversation is open, decided here and nowhere
 * else: each is checked and applied in one transaction, under the next version, so a request
 * that started before a removal, close or block cannot undo it. D1 learns afterwards through
 * the summary mirror; the callers wait for it so a list read right after the answer is fresh.
 */
export class MembershipDesk {
  constructor(private readonly conversation: Conversation) {}

  create(input: NewConversation): Result<ConversationState> {
    const c = this.conversation;
    if (c.membership.current) {
      // A retried create of the same conversation (same id) is harmless; anything else is a bug.
      return c.membership.current.createdBy === input.createdBy ? ok(this.state(input.createdBy)) : fail("FORBIDDEN", "conversation exists");
    }
    c.transaction(() => c.membership.create(input, nowIso()));
    return ok(this.state(input.createdBy));
  }

  state(viewerId: string): ConversationState {
    const c = this.conversation;
    const { membership } = c;
    const meta = membership.current!;
    const isParticipant = membership.isParticipant(viewerId);
    return {
      id: meta.id,
      type: meta.type,
      status: meta.status,
      createdBy: meta.createdBy,
      version: membership.version,
      lastSeq: c.log.lastSeq,
      isParticipant,
      viewerUnread: isParticipant ? c.unreadOf(viewerId) : 0,
      participantCount: membership.count,
      participants: c.members.listedCursors(PARTICIPANTS_LISTED).map(({ userId, role, cursor }) => ({
        id: userId,
        role,
        lastReadSeq: cursor,
        unreadCount: Math.max(0, c.log.lastSeq - cursor),
      })),
    };
  }

  /**
   * Any participant may close or reopen; a close by a moderator (an admin or the app's backend)
   * can be undone only by a moderator. An admin who is not a participant leaves a system note
   * naming the action (the backend posts its own messages when it wants any).
   */
  setStatus(actor: Actor, status: ConversationStatus): Result<ConversationState> {
    const c = this.conversation;
    const meta = c.membership.current!;
    if (meta.status === status) return ok(this.state(actor.id));
    if (status === "active" && meta.closedBy === "moderator" && !isModerator(actor)) {
      return fail("FORBIDDEN", "a conversation closed by a moderator can be reopened only by a moderator");
    }
    const noted = actor.isAdmin && !c.membership.isParticipant(actor.id);
    const note = c.transaction(() => {
      c.membership.setStatus(status, isModerator(actor) ? "moderator" : "participant");
      if (!noted) return null;
      const change = status === "closed" ? "closed" : "reopened";
      return c.appendSystem(`Conversation ${change} by a moderator`, { action: `conversation.${change}`, actor_id: actor.id });
    });
    if (note) c.publish([note], null);
    return ok(this.state(actor.id));
  }

  /**
   * Participants, admins and the service add people to groups; naming an existing participant
   * changes their role. A role a moderator gives is trusted and locked: participants may not
   * change it; a participant's role is a label.
   */
  add(actor: Actor, person: NewParticipant): Result<{ added: boolean; state: ConversationState }> {
    const c = this.conversation;
    const refused = this.requireGroup();
    if (refused) return refused;
    const { userId, role } = person;
    if (!person.known) return fail("USER_NOT_FOUND", "no such user");
    if (person.blockedCaller) return fail("BLOCKED", "this user does not accept conversations from you");
    const existing = c.membership.seatOf(userId);
    if (role !== undefined && existing?.locked && existing.role !== role && !isModerator(actor)) return lockedRole();
    const seat = { role: role ?? existing?.role ?? "member", locked: (existing?.locked ?? false) || (role !== undefined && isModerator(actor)) };
    const { added } = c.transaction(() => {
      const changed = c.membership.add(userId, seat, nowIso());
      if (person.profile) c.membership.setProfile(userId, person.profile);
      return changed;
    });
    if (added) c.webhooks.emit("participant.added", { conversation_id: c.id, user_id: userId, role: seat.role });
    return ok({ added, state: this.state(actor.id) });
  }

  /** The service and admins set a participant's role (in any conversation); it is locked from then on. */
  setRole(actor: Actor, userId: string, role: ParticipantRole): Result<ConversationState> {
    const c = this.conversation;
    if (!isModerator(actor)) return lockedRole();
    if (!c.membership.isParticipant(userId)) return fail("USER_NOT_FOUND", "not a participant of this conversation");
    c.transaction(() => c.membership.add(userId, { role, locked: true }, nowIso()));
    return ok(this.state(actor.id));
  }

  /** Leaving, or removal by the creator, an admin or the service; the removed person's sockets close at once. */
  remove(actor: Actor, userId: string): Result<ConversationState> {
    const c = this.conversation;
    const refused = this.requireGroup();
    if (refused) return refused;
    const meta = c.membership.current!;
    if (!(isModerator(actor) || userId === actor.id || meta.createdBy === actor.id)) {
      return fail("FORBIDDEN", "only the creator, an admin or the app's backend may remove others");
    }
    const role = c.membership.roleOf(userId);
    const removed = c.transaction(() => c.membership.remove(userId));
    if (!removed) return fail("USER_NOT_FOUND", "not a participant");
    c.watchInbox(userId, false);
    if (c.unsubscribe(userId)) c.subscribers.ended(userId, "removed");
    c.webhooks.emit("participant.removed", { conversation_id: c.id, user_id: userId, role: role ?? "member" });
    if (c.typing.stop(userId)) c.broadcastTyping(userId, false);
    c.hub.closeUser(userId, CLOSE_REMOVED, "no longer a participant");
    return ok(this.state(actor.id));
  }

  /** Blocks and friendships changed for a direct conversation's pair: sends are checked against these from now on. */
  setRefusals(refusals: Record<string, Refusal>): void {
    const c = this.conversation;
    c.transaction(() => c.membership.setRefusals(refusals));
  }

  private requireGroup(): Result<never> | null {
    return this.conversation.membership.current!.type === "group" ? null : fail("FORBIDDEN", "a direct conversation's participants are fixed");
  }
}

const lockedRole = (): Result<never> => fail("FORBIDDEN", "roles are set by the app's backend or an admin");
