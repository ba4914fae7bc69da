import type { ParticipantRole } from "../schemas/conversations";
import type { Profile } from "../schemas/messages";
import type { StateStore } from "./storage";

export type Refusal = "BLOCKED" | "NOT_FRIENDS";
export type ConversationStatus = "active" | "closed";

/** Who closed a closed conversation: a moderator's (admin's or service's) close binds participants. */
export type ClosedBy = "participant" | "moderator" | null;

/** The conversation's identity and state as its object holds it (the authority; D1 mirrors it). */
export interface ConversationMeta {
  id: string;
  type: "direct" | "group";
  createdBy: string;
  status: ConversationStatus;
  closedBy: ClosedBy;
  /** Participants who may read but not send: blocked by the other side, or not friends under DM_POLICY=friends. */
  refusals: Record<string, Refusal>;
}

/** A participant's place: their role, and whether only a moderator may change it (the service or an admin set it). */
export interface Seat {
  role: ParticipantRole;
  locked: boolean;
}

export interface NewConversation {
  id: string;
  type: "direct" | "group";
  createdBy: string;
  participants: ({ userId: string; profile: Profile } & Seat)[];
  refusals: Record<string, Refusal>;
}

/** A membership change D1 has not been told yet: the participant's state at `version`. */
export interface UnmirroredParticipant {
  userId: string;
  role: ParticipantRole;
  joinedAt: string;
  active: boolean;
  version: number;
}

type ParticipantRow = { user_id: string; role: ParticipantRole; joined_at: string; active: number; version: number };

/**
 * Who belongs to the conversation, with roles, its status and its refusals. Every change takes
 * the next `version` (stored, so it only grows, across eviction too). A removed participant's
 * row stays (inactive) so the change can be mirrored to D1 in order; `mirrored_version` says
 * what D1 has been told. Membership checks are a primary-key lookup, cached per instance.
 */
export class Membership {
  private meta: ConversationMeta | null = null;
  private currentVersion = 0;
  private activeCount = 0;
  private readonly seats = new Map<string, Seat | null>();
  private readonly profiles = new Map<string, Profile | null>();
  /** Whether a participant change is not in D1 yet; null when not known (asked of storage). Asked every summary round. */
  private participantsUnmirrored: boolean | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly state: StateStore,
  ) {
    this.load();
  }

  /** A transaction rolled back: what is kept in memory is learned again from storage. */
  forget(): void {
    this.seats.clear();
    this.profiles.clear();
    this.participantsUnmirrored = null;
    this.load();
  }

  private load(): void {
    const stored = this.state.get("conversation");
    this.meta = stored ? (JSON.parse(stored) as ConversationMeta) : null;
    this.currentVersion = Number(this.state.get("version") ?? 0);
    this.activeCount = this.meta ? this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM participants WHERE active = 1").one().n : 0;
  }

  /** Null until the conversation was created: an object of an unknown id knows nothing. */
  get current(): ConversationMeta | null {
    return this.meta;
  }

  get version(): number {
    return this.currentVersion;
  }

  get count(): number {
    return this.activeCount;
  }

  /** Inside a transaction. Creating twice is refused by the caller (see Conversation.create). */
  create(input: NewConversation, now: string): void {
    const version = this.bump();
    for (const { userId, role, locked, profile } of input.participants) {
      // Creation is mirrored by the Worker itself (one D1 batch with the conversation row).
      this.sql.exec(
        "INSERT INTO participants (user_id, role, role_locked, joined_at, active, version, mirrored_version, name, avatar_url) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)",
        userId,
        role,
        locked ? 1 : 0,
        now,
        version,
        version,
        profile.name,
        profile.avatar_url,
      );
    }
    this.profiles.clear();
    this.activeCount = input.participants.length;
    this.seats.clear();
    this.saveMeta({ id: input.id, type: input.type, createdBy: input.createdBy, status: "active", closedBy: null, refusals: input.refusals }, true);
  }

  seatOf(userId: string): Seat | null {
    let seat = this.seats.get(userId);
    if (seat === undefined) {
      const row = this.sql.exec<{ role: ParticipantRole; role_locked: number }>("SELECT role, role_locked FROM participants WHERE user_id = ? AND active = 1", userId).toArray()[0];
      seat = row ? { role: row.role, locked: row.role_locked === 1 } : null;
      this.seats.set(userId, seat);
    }
    return seat;
  }

  roleOf(userId: string): ParticipantRole | null {
    return this.seatOf(userId)?.role ?? null;
  }

  isParticipant(userId: string): boolean {
    return this.seatOf(userId) !== null;
  }

  /** A participant's (or former participant's) name and avatar as the Worker last told: what their messages carry. */
  profileOf(userId: string): Profile | null {
    let profile = this.profiles.get(userId);
    if (profile === undefined) {
      const row = this.sql.exec<{ name: string | null; avatar_url: string | null }>("SELECT name, avatar_url FROM participants WHERE user_id = ?", userId).toArray()[0];
      profile = row?.name != null ? { name: row.name, avatar_url: row.avatar_url } : null;
      this.profiles.set(userId, profile);
    }
    return profile;
  }

  /** A profile changed (or is learned): messages from now on carry it. Not a membership change: no version. */
  setProfile(userId: string, profile: Profile): void {
    this.sql.exec("UPDATE participants SET name = ?, avatar_url = ? WHERE user_id = ?", profile.name, profile.avatar_url, userId);
    this.profiles.delete(userId);
  }

  /** Adds a participant, or changes a participant's seat. Inside a transaction; returns whether they are new. */
  add(userId: string, seat: Seat, now: string): { added: boolean; changed: boolean } {
    const existing = this.seatOf(userId);
    if (existing && existing.role === seat.role && existing.locked === seat.locked) return { added: false, changed: false };
    const version = this.bump();
    this.sql.exec(
      `INSERT INTO participants (user_id, role, role_locked, joined_at, active, version) VALUES (?, ?, ?, ?, 1, ?)
       ON CONFLICT(user_id) DO UPDATE SET role = excluded.role, role_locked = excluded.role_locked, active = 1, version = excluded.version,
         joined_at = CASE WHEN participants.active = 1 THEN participants.joined_at ELSE excluded.joined_at END`,
      userId,
      seat.role,
      seat.locked ? 1 : 0,
      now,
      version,
    );
    if (existing === null) this.activeCount++;
    this.seats.set(userId, { ...seat });
    this.participantsUnmirrored = true;
    return { added: existing === null, changed: true };
  }

  /** Inside a transaction; returns false when they were not a participant. */
  remove(userId: string): boolean {
    if (!this.isParticipant(userId)) return false;
    this.sql.exec("UPDATE participants SET active = 0, version = ? WHERE user_id = ?", this.bump(), userId);
    this.activeCount--;
    this.seats.set(userId, null);
    this.participantsUnmirrored = true;
    return true;
  }

  setStatus(status: ConversationStatus, closedBy: ClosedBy): void {
    this.saveMeta({ ...this.meta!, status, closedBy: status === "closed" ? closedBy : null }, true);
  }

  setRefusals(refusals: Record<string, Refusal>): boolean {
    if (JSON.stringify(refusals) === JSON.stringify(this.meta!.refusals)) return false;
    this.saveMeta({ ...this.meta!, refusals }, false);
    return true;
  }

  refusalFor(userId: string): Refusal | null {
    return this.meta?.refusals[userId] ?? null;
  }

  /** Active participant ids, in join order. */
  ids(): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM participants WHERE active = 1 ORDER BY joined_at, user_id")
      .toArray()
      .map((r) => r.user_id);
  }

  // ── The D1 mirror (participants rows, status) ──

  unmirrored(limit: number): UnmirroredParticipant[] {
    return this.sql
      .exec<ParticipantRow>("SELECT user_id, role, joined_at, active, version FROM participants WHERE version > mirrored_version LIMIT ?", limit)
      .toArray()
      .map((r) => ({ userId: r.user_id, role: r.role, joinedAt: r.joined_at, active: r.active === 1, version: r.version }));
  }

  hasUnmirrored(): boolean {
    this.participantsUnmirrored ??= this.sql.exec("SELECT 1 FROM participants WHERE version > mirrored_version LIMIT 1").toArray().length > 0;
    return this.statusUnmirrored() || this.participantsUnmirrored;
  }

  /** What D1 was told, unless the participant changed again meanwhile (then the next round sends that). */
  markMirrored(changes: UnmirroredParticipant[], statusVersion: number | null): void {
    for (const change of changes) {
      this.sql.exec("UPDATE participants SET mirrored_version = ? WHERE user_id = ? AND version = ?", change.version, change.userId, change.version);
    }
    if (changes.length > 0) this.participantsUnmirrored = null;
    if (statusVersion !== null && Number(this.state.get("status_mirrored_version") ?? 0) < statusVersion) {
      this.state.set("status_mirrored_version", String(statusVersion));
    }
  }

  /** The version of the status change D1 has not been told, or null. */
  statusToMirror(): number | null {
    return this.statusUnmirrored() ? Number(this.state.get("status_version") ?? 0) : null;
  }

  private statusUnmirrored(): boolean {
    return Number(this.state.get("status_version") ?? 0) > Number(this.state.get("status_mirrored_version") ?? 0);
  }

  private bump(): number {
    this.currentVersion++;
    this.state.set("version", String(this.currentVersion));
    return this.currentVersion;
  }

  private saveMeta(meta: ConversationMeta, statusChanged: boolean): void {
    const isNew = this.meta === null;
    this.meta = meta;
    this.state.set("conversation", JSON.stringify(meta));
    if (isNew) return;
    const version = this.bump();
    if (statusChanged) this.state.set("status_version", String(version));
  }
}
