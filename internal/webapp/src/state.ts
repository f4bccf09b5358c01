// The webmail's state: the mailboxes, the list on screen (one row per
// conversation), the selection, the open conversation, and the actions
// on them. Actions change the state at once (optimistic: a keypress is
// reflected before the server answers) and then tell the server; a
// failure puts the state back and says so. Push (EventSource) brings
// what other clients did.

import type { Identity } from "./compose";
import { message } from "./errors";
import { Batch, type Client, MethodError, type Results } from "./jmap";
import {
  type Email,
  inMailbox,
  isFlagged,
  isUnread,
  listProperties,
  type Mailbox,
  mailboxProperties,
  readProperties,
  sortMailboxes,
} from "./model";

export type View = { kind: "mailbox"; mailboxId: string } | { kind: "search"; query: string };

// Composing is what the compose pane was opened for.
export interface Composing {
  mode: "new" | "reply" | "replyAll" | "forward" | "draft";
  emailId?: string;
  key: number;
}

export interface Toast {
  id: number;
  text: string;
  undo?: () => void;
  error?: boolean;
}

// PAGE is how many conversations one list request brings.
export const PAGE = 50;
// UNDO_MS is how long an action can be undone.
export const UNDO_MS = 6000;
// SET_CHUNK and GET_CHUNK keep each Email/set and Email/get within the
// server's maxObjectsInSet and maxObjectsInGet (1,000); QUERY_PAGE is
// its largest Email/query page, CALLS_PER_REQUEST well within
// maxCallsInRequest (64).
const SET_CHUNK = 500;
const GET_CHUNK = 1000;
const QUERY_PAGE = 10000;
const CALLS_PER_REQUEST = 32;
const SET_CALLS = 8;

type Listener = () => void;

export class MailState {
  mailboxes = new Map<string, Mailbox>();
  emails = new Map<string, Email>();
  // threads maps a conversation to its messages, oldest first.
  threads = new Map<string, string[]>();
  view: View = { kind: "mailbox", mailboxId: "" };
  // rows are the listed conversations by the email that stands for each.
  rows: string[] = [];
  total = 0;
  loading = false;
  listError = "";
  // selected are conversation (thread) ids; allSelected extends the
  // selection to every conversation of the view, on every page.
  selected = new Set<string>();
  allSelected = false;
  anchor: string | null = null;
  focus = 0;
  openThread: string | null = null;
  toasts: Toast[] = [];
  searchTotal: number | null = null;
  // snippets are the search results' highlighted previews (SearchSnippet),
  // by email id: HTML-escaped text with <mark> around the matches.
  snippets = new Map<string, { subject: string | null; preview: string | null }>();
  identities: Identity[] = [];
  composing: Composing | null = null;
  private composeSeq = 0;

  private emailState = "";
  private mailboxState = "";
  private listeners = new Set<Listener>();
  private listSeq = 0;
  private toastSeq = 0;
  private notifyQueued = false;

  constructor(readonly jmap: Client) {}

  get accountId(): string {
    return this.jmap.primaryAccount;
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  // notify re-renders once per microtask, however many changes an action
  // makes.
  notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const l of this.listeners) l();
    });
  }

  // --- mailboxes ---

  sortedMailboxes(): Mailbox[] {
    return sortMailboxes([...this.mailboxes.values()]);
  }

  byRole(role: string): Mailbox | undefined {
    for (const m of this.mailboxes.values()) if (m.role === role) return m;
    return undefined;
  }

  // boot reads the folders and the first page of a view in one request.
  async boot(view: View): Promise<void> {
    this.view = view;
    const b = new Batch();
    const mb = b.add("Mailbox/get", { accountId: this.accountId, properties: mailboxProperties });
    const q = this.query(0, PAGE, b);
    const res = await this.jmap.request(b);
    const r = res.get<{ list: Mailbox[]; state: string }>(mb);
    this.mailboxes = new Map(r.list.map((m) => [m.id, m]));
    this.mailboxState = r.state;
    const qr = res.get<{ ids: string[]; total: number }>(q);
    this.absorbBatch(res, b);
    this.rows = qr.ids;
    this.total = qr.total;
    this.notify();
  }

  async loadMailboxes(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const epoch = this.epoch;
      const r = await this.jmap.call<{ list: Mailbox[]; state: string }>("Mailbox/get", {
        accountId: this.accountId,
        properties: mailboxProperties,
      });
      // As for the list: a read that crossed one of the app's own changes
      // is read again, and changes in flight win over what it says.
      if (epoch !== this.epoch && attempt < 2) continue;
      this.mailboxes = new Map(r.list.map((m) => [m.id, { ...m, ...this.mailboxPatches.get(m.id) }]));
      this.mailboxState = r.state;
      break;
    }
    this.notify();
  }

  totalUnread(): number {
    const inbox = this.byRole("inbox");
    return inbox ? inbox.unreadEmails : 0;
  }

  async setSubscribed(mailboxId: string, on: boolean): Promise<void> {
    const m = this.mailboxes.get(mailboxId);
    if (!m) return;
    const was = m.isSubscribed;
    m.isSubscribed = on;
    this.mailboxPatches.set(mailboxId, { isSubscribed: on });
    this.notify();
    try {
      await this.tracked([], () => this.setObjects("Mailbox/set", { [mailboxId]: { isSubscribed: on } }));
    } catch (e) {
      const cur = this.mailboxes.get(mailboxId);
      if (cur) cur.isSubscribed = was;
      this.fail(e, on ? "Could not show the folder" : "Could not hide the folder");
    } finally {
      this.mailboxPatches.delete(mailboxId);
      this.notify();
    }
  }

  // --- the list ---

  private filter(): Record<string, unknown> {
    if (this.view.kind === "mailbox") return { inMailbox: this.view.mailboxId };
    // Without the server's search language, words match the whole text;
    // Junk and Trash are left out as the old search box did.
    const skip = ["junk", "trash"].map((r) => this.byRole(r)?.id).filter((id): id is string => !!id);
    if (this.jmap.session.capabilities["urn:mailroom:params:jmap:search"]) {
      return { mailroomQuery: this.view.query };
    }
    return { operator: "AND", conditions: [{ text: this.view.query }, ...(skip.length ? [{ inMailboxOtherThan: skip }] : [])] };
  }

  private query(position: number, limit: number, b: Batch): string {
    const q = b.add("Email/query", {
      accountId: this.accountId,
      filter: this.filter(),
      sort: [{ property: "receivedAt", isAscending: false }],
      collapseThreads: true,
      position,
      limit,
      calculateTotal: true,
    });
    const get = b.add("Email/get", { accountId: this.accountId, "#ids": b.ref(q, "/ids"), properties: listProperties });
    const th = b.add("Thread/get", { accountId: this.accountId, "#ids": b.ref(get, "/list/*/threadId") });
    // The other messages of each conversation, for its unread and flag
    // marks and for actions on the whole conversation.
    b.add("Email/get", {
      accountId: this.accountId,
      "#ids": b.ref(th, "/list/*/emailIds"),
      properties: ["id", "threadId", "mailboxIds", "keywords", "from", "receivedAt", "size", "hasAttachment"],
    });
    if (this.view.kind === "search") {
      b.add("SearchSnippet/get", { accountId: this.accountId, filter: this.filter(), "#emailIds": b.ref(q, "/ids") });
    }
    return q;
  }

  // mailboxPatches are the changes to folders in flight, kept over any
  // Mailbox/get that answers before them.
  private mailboxPatches = new Map<string, Partial<Mailbox>>();

  // pending counts the changes in flight per email: until the server has
  // answered, what it reports of that email is older than what is shown,
  // and a refresh (a push, another page) must not put it back.
  private pending = new Map<string, number>();

  // epoch counts this app's changes the server has answered: a read
  // that started before one of them may be stale.
  private epoch = 0;

  private hold(ids: string[]): () => void {
    for (const id of ids) this.pending.set(id, (this.pending.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.epoch++;
      for (const id of ids) {
        const n = (this.pending.get(id) ?? 1) - 1;
        if (n > 0) this.pending.set(id, n);
        else this.pending.delete(id);
      }
    };
  }

  private async tracked<T>(ids: string[], run: () => Promise<T>): Promise<T> {
    const release = this.hold(ids);
    try {
      return await run();
    } finally {
      release();
    }
  }

  private absorb(list: Partial<Email>[]): void {
    for (const e of list) {
      const have = this.emails.get(e.id!);
      if (have && this.pending.has(e.id!)) {
        const { mailboxIds: _m, keywords: _k, ...rest } = e;
        this.emails.set(e.id!, { ...have, ...rest });
        continue;
      }
      this.emails.set(e.id!, have ? { ...have, ...e } : (e as Email));
    }
  }

  // shown drops the rows whose conversation left the view here first
  // (moved, deleted) while the server's answer was on its way.
  private shown(ids: string[]): string[] {
    return ids.filter((id) => {
      const e = this.emails.get(id);
      if (!e) return false;
      if (!this.pending.has(id) || this.inView(e)) return true;
      return this.conversation(e.threadId).length > 0;
    });
  }

  private absorbBatch(res: Results, calls: Batch): void {
    for (const [name, , id] of calls.calls) {
      if (name === "Email/get") {
        const r = res.get<{ list: Email[]; state: string }>(id);
        this.absorb(r.list);
        this.emailState ||= r.state;
      } else if (name === "SearchSnippet/get") {
        for (const sn of res.get<{ list: { emailId: string; subject: string | null; preview: string | null }[] }>(id).list) {
          this.snippets.set(sn.emailId, sn);
        }
      } else if (name === "Thread/get") {
        for (const t of res.get<{ list: { id: string; emailIds: string[] }[] }>(id).list) this.threads.set(t.id, t.emailIds);
      }
    }
  }

  // show switches the view and loads its first page.
  async show(view: View): Promise<void> {
    this.view = view;
    this.rows = [];
    this.total = 0;
    this.focus = 0;
    this.clearSelection();
    this.listError = "";
    this.searchTotal = null;
    await this.reloadList(PAGE);
  }

  // reloadList reads the first n conversations of the view again.
  async reloadList(n = Math.max(PAGE, this.rows.length)): Promise<void> {
    const seq = ++this.listSeq;
    this.loading = true;
    this.notify();
    try {
      let b: Batch;
      let q: string;
      let res: Results;
      for (let attempt = 0; ; attempt++) {
        const epoch = this.epoch;
        b = new Batch();
        q = this.query(0, n, b);
        res = await this.jmap.request(b);
        if (seq !== this.listSeq) return;
        // A change of ours that landed while this read was on its way
        // may be missing from it: read again rather than show the past.
        if (epoch === this.epoch || attempt === 2) break;
      }
      const qr = res.get<{ ids: string[]; total: number }>(q);
      this.absorbBatch(res, b);
      this.rows = this.shown(qr.ids);
      this.total = qr.total;
      if (this.view.kind === "search") this.searchTotal = qr.total;
      this.focus = Math.min(this.focus, Math.max(0, this.rows.length - 1));
      this.listError = "";
    } catch (e) {
      if (seq === this.listSeq) this.listError = message(e, "Could not load the messages");
    } finally {
      if (seq === this.listSeq) this.loading = false;
      this.notify();
    }
  }

  async loadMore(): Promise<void> {
    if (this.loading || this.rows.length >= this.total) return;
    const seq = ++this.listSeq;
    this.loading = true;
    this.notify();
    try {
      const b = new Batch();
      const q = this.query(this.rows.length, PAGE, b);
      const res = await this.jmap.request(b);
      if (seq !== this.listSeq) return;
      const qr = res.get<{ ids: string[]; total: number }>(q);
      this.absorbBatch(res, b);
      const have = new Set(this.rows);
      this.rows = [...this.rows, ...this.shown(qr.ids.filter((id) => !have.has(id)))];
      this.total = qr.total;
    } catch (e) {
      if (seq === this.listSeq) this.listError = message(e, "Could not load more messages");
    } finally {
      if (seq === this.listSeq) this.loading = false;
      this.notify();
    }
  }

  rowEmail(i: number): Email | undefined {
    return this.emails.get(this.rows[i]);
  }

  // inView says whether a message belongs to the view: in its folder, or
  // for a search anywhere but Junk and Trash.
  inView(e: Email): boolean {
    if (this.view.kind === "mailbox") return inMailbox(e, this.view.mailboxId);
    const junk = this.byRole("junk")?.id;
    const trash = this.byRole("trash")?.id;
    return !(junk && e.mailboxIds[junk]) && !(trash && e.mailboxIds[trash]);
  }

  // conversation returns the messages of a conversation in the view,
  // oldest first.
  conversation(threadId: string, all = false): Email[] {
    const ids = this.threads.get(threadId) ?? [];
    const out: Email[] = [];
    for (const id of ids) {
      const e = this.emails.get(id);
      if (e && (all || this.inView(e))) out.push(e);
    }
    return out;
  }

  rowSummary(emailId: string): { email: Email; count: number; unread: boolean; flagged: boolean; senders: string[]; attachment: boolean; size: number } | null {
    const email = this.emails.get(emailId);
    if (!email) return null;
    const conv = this.conversation(email.threadId);
    const msgs = conv.length ? conv : [email];
    const senders: string[] = [];
    for (const m of msgs) {
      const s = m.from?.[0];
      const n = s ? s.name?.trim() || s.email : "";
      if (n && !senders.includes(n)) senders.push(n);
    }
    return {
      email,
      count: msgs.length,
      unread: msgs.some(isUnread),
      flagged: msgs.some(isFlagged),
      senders,
      attachment: msgs.some((m) => m.hasAttachment),
      size: msgs.reduce((n, m) => n + m.size, 0),
    };
  }

  // --- selection ---

  clearSelection(): void {
    this.selected.clear();
    this.allSelected = false;
    this.anchor = null;
  }

  toggle(threadId: string, range = false): void {
    this.allSelected = false;
    if (range && this.anchor) {
      const threadsInOrder = this.rows.map((id) => this.emails.get(id)?.threadId);
      const a = threadsInOrder.indexOf(this.anchor);
      const b = threadsInOrder.indexOf(threadId);
      if (a >= 0 && b >= 0) {
        const on = !this.selected.has(threadId) || this.selected.has(this.anchor);
        for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
          const t = threadsInOrder[i];
          if (t) {
            if (on) this.selected.add(t);
            else this.selected.delete(t);
          }
        }
        this.anchor = threadId;
        this.notify();
        return;
      }
    }
    if (this.selected.has(threadId)) this.selected.delete(threadId);
    else this.selected.add(threadId);
    this.anchor = threadId;
    this.notify();
  }

  selectPage(on: boolean): void {
    this.allSelected = false;
    this.selected.clear();
    if (on) for (const id of this.rows) this.selected.add(this.emails.get(id)!.threadId);
    this.notify();
  }

  selectAllPages(): void {
    this.selectPage(true);
    this.allSelected = true;
    this.notify();
  }

  // targets are the conversations an action applies to: the selection,
  // else the open conversation, else the focused row.
  targets(): string[] {
    if (this.selected.size) return [...this.selected];
    if (this.openThread) return [this.openThread];
    const e = this.rowEmail(this.focus);
    return e ? [e.threadId] : [];
  }

  // targetEmails are the messages the action changes: each conversation's
  // messages in the view. With every page selected, all of the view's
  // messages are asked of the server.
  private async targetEmails(threadIds: string[]): Promise<Email[]> {
    if (!this.allSelected) return threadIds.flatMap((t) => this.conversation(t));
    // Every page: the ids by pages of the server's largest query, then
    // the messages by calls of at most maxObjectsInGet, many per request.
    const ids: string[] = [];
    for (;;) {
      const r = await this.jmap.call<{ ids: string[]; total: number }>("Email/query", {
        accountId: this.accountId,
        filter: this.filter(),
        position: ids.length,
        limit: QUERY_PAGE,
        calculateTotal: true,
      });
      ids.push(...r.ids);
      if (r.ids.length === 0 || ids.length >= r.total) break;
    }
    const missing = ids.filter((id) => !this.emails.has(id) || !this.emails.get(id)!.mailboxIds);
    for (let i = 0; i < missing.length; i += GET_CHUNK * CALLS_PER_REQUEST) {
      const b = new Batch();
      for (let j = i; j < Math.min(missing.length, i + GET_CHUNK * CALLS_PER_REQUEST); j += GET_CHUNK) {
        b.add("Email/get", { accountId: this.accountId, ids: missing.slice(j, j + GET_CHUNK), properties: ["id", "threadId", "mailboxIds", "keywords"] });
      }
      this.absorbBatch(await this.jmap.request(b), b);
    }
    return ids.map((id) => this.emails.get(id)).filter((e): e is Email => !!e);
  }

  // --- actions ---

  toast(text: string, undo?: () => void, error = false, ms = error ? UNDO_MS * 2 : UNDO_MS): number {
    const t: Toast = { id: ++this.toastSeq, text, undo, error };
    this.toasts = [t];
    this.notify();
    setTimeout(() => this.dismiss(t.id), ms);
    return t.id;
  }

  // --- writing ---

  async loadIdentities(): Promise<void> {
    const r = await this.jmap.call<{ list: Identity[] }>("Identity/get", { accountId: this.jmap.session.primaryAccounts["urn:ietf:params:jmap:submission"] ?? this.accountId });
    this.identities = r.list;
    this.notify();
  }

  compose(mode: Composing["mode"], emailId?: string): void {
    this.composing = { mode, emailId, key: ++this.composeSeq };
    this.notify();
  }

  closeCompose(): void {
    this.composing = null;
    this.notify();
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
    this.notify();
  }

  fail(e: unknown, what: string): void {
    this.toast(message(e, what), undefined, true);
  }

  private async setObjects(method: string, update: Record<string, unknown>, destroy?: string[]): Promise<void> {
    const ids = Object.keys(update);
    const n = Math.max(ids.length, destroy?.length ?? 0);
    // Chunks within maxObjectsInSet, several calls to a request.
    for (let i = 0; i < n; i += SET_CHUNK * SET_CALLS) {
      const b = new Batch();
      for (let j = i; j < Math.min(n, i + SET_CHUNK * SET_CALLS); j += SET_CHUNK) {
        const args: Record<string, unknown> = { accountId: this.accountId };
        if (j < ids.length) args.update = Object.fromEntries(ids.slice(j, j + SET_CHUNK).map((id) => [id, update[id]]));
        if (destroy && j < destroy.length) args.destroy = destroy.slice(j, j + SET_CHUNK);
        b.add(method, args);
      }
      const res = await this.jmap.request(b);
      for (const [, , id] of b.calls) {
        const r = res.get<{ notUpdated?: Record<string, { type: string; description?: string }>; notDestroyed?: Record<string, { type: string; description?: string }> }>(id);
        const bad = Object.values(r.notUpdated ?? {}).concat(Object.values(r.notDestroyed ?? {}));
        if (bad.length) throw new MethodError(bad[0].type, method, bad[0].description);
      }
    }
  }

  // setKeyword sets or clears a keyword ($seen, $flagged) on the target
  // conversations.
  async setKeyword(keyword: string, on: boolean, threadIds = this.targets()): Promise<void> {
    const emails = (await this.targetEmails(threadIds)).filter((e) => !!e.keywords[keyword] !== on);
    if (!emails.length) return;
    const before = emails.map((e) => [e, e.keywords] as const);
    for (const e of emails) {
      const k = { ...e.keywords };
      if (on) k[keyword] = true;
      else delete k[keyword];
      e.keywords = k;
    }
    this.adjustUnread(emails, keyword, on);
    this.notify();
    try {
      await this.tracked(
        emails.map((e) => e.id),
        () => this.setObjects("Email/set", Object.fromEntries(emails.map((e) => [e.id, { [`keywords/${keyword}`]: on ? true : null }]))),
      );
    } catch (e) {
      for (const [m, k] of before) m.keywords = k;
      this.adjustUnread(emails, keyword, !on);
      this.fail(e, "Could not change the messages");
    }
    this.notify();
  }

  // adjustUnread keeps the folders' unread counts right until the server's
  // push confirms them.
  private adjustUnread(emails: Email[], keyword: string, on: boolean): void {
    if (keyword !== "$seen") return;
    for (const e of emails) {
      for (const id of Object.keys(e.mailboxIds)) {
        const m = this.mailboxes.get(id);
        if (m) m.unreadEmails = Math.max(0, m.unreadEmails + (on ? -1 : 1));
      }
    }
  }

  // move puts the target conversations' messages in the view into
  // another folder, with undo.
  async move(toMailboxId: string, threadIds = this.targets(), extra?: { keywords?: Record<string, boolean | null> }): Promise<void> {
    const dest = this.mailboxes.get(toMailboxId);
    if (!dest) return;
    const emails = (await this.targetEmails(threadIds)).filter((e) => !e.mailboxIds[toMailboxId]);
    if (!emails.length) return;
    const before = new Map(emails.map((e) => [e.id, e.mailboxIds]));
    const patch = (): Record<string, unknown> => {
      const p: Record<string, unknown> = { mailboxIds: { [toMailboxId]: true } };
      for (const [k, v] of Object.entries(extra?.keywords ?? {})) p[`keywords/${k}`] = v;
      return p;
    };
    this.applyMove(emails, toMailboxId);
    const n = new Set(emails.map((e) => e.threadId)).size;
    try {
      await this.tracked(
        emails.map((e) => e.id),
        () => this.setObjects("Email/set", Object.fromEntries(emails.map((e) => [e.id, patch()]))),
      );
    } catch (e) {
      this.restore(before);
      this.fail(e, `Could not move to ${dest.name}`);
      return;
    }
    this.toast(`${n === 1 ? "Conversation" : `${n} conversations`} moved to ${dest.name}.`, () => void this.undoMove(before));
    void this.loadMailboxes();
  }

  private applyMove(emails: Email[], to: string): void {
    const leaving = new Set<string>();
    for (const e of emails) {
      e.mailboxIds = { [to]: true };
      leaving.add(e.threadId);
    }
    this.removeRowsOutOfView();
    if (this.openThread && leaving.has(this.openThread) && this.conversation(this.openThread).length === 0) this.openThread = null;
    for (const t of leaving) this.selected.delete(t);
    this.allSelected = false;
    this.notify();
  }

  private removeRowsOutOfView(): void {
    const before = this.rows.length;
    this.rows = this.rows.filter((id) => {
      const e = this.emails.get(id);
      return e && (this.inView(e) || this.conversation(e.threadId).length > 0);
    });
    this.total = Math.max(0, this.total - (before - this.rows.length));
    this.focus = Math.min(this.focus, Math.max(0, this.rows.length - 1));
  }

  private restore(before: Map<string, Record<string, boolean>>): void {
    for (const [id, boxes] of before) {
      const e = this.emails.get(id);
      if (e) e.mailboxIds = boxes;
    }
    void this.reloadList();
  }

  private async undoMove(before: Map<string, Record<string, boolean>>): Promise<void> {
    try {
      await this.tracked([...before.keys()], () => this.setObjects("Email/set", Object.fromEntries([...before].map(([id, boxes]) => [id, { mailboxIds: boxes }]))));
      this.restore(before);
      this.toast("Undone.");
      void this.loadMailboxes();
    } catch (e) {
      this.fail(e, "Could not undo");
    }
  }

  // archive moves to the Archive folder.
  async archive(): Promise<void> {
    const a = this.byRole("archive");
    if (!a) {
      this.toast("There is no Archive folder.", undefined, true);
      return;
    }
    if (this.view.kind === "mailbox" && this.view.mailboxId === a.id) return;
    await this.move(a.id);
  }

  // remove moves to Trash; in Trash (and Junk) it deletes for good, but
  // only once the undo time has passed, so that undo is possible there
  // too.
  async remove(): Promise<void> {
    const trash = this.byRole("trash");
    const junk = this.byRole("junk");
    const here = this.view.kind === "mailbox" ? this.view.mailboxId : "";
    if (trash && here !== trash.id && !(junk && here === junk.id)) {
      await this.move(trash.id);
      return;
    }
    const emails = await this.targetEmails(this.targets());
    if (!emails.length) return;
    const before = new Map(emails.map((e) => [e.id, e.mailboxIds]));
    const gone = new Set(emails.map((e) => e.id));
    // Shown gone while the undo time runs, whatever a refresh says.
    const release = this.hold([...gone]);
    for (const e of emails) e.mailboxIds = {};
    this.removeRowsOutOfView();
    this.clearSelection();
    if (this.openThread && this.conversation(this.openThread).length === 0) this.openThread = null;
    this.notify();
    let undone = false;
    const timer = setTimeout(() => {
      if (undone) return;
      window.removeEventListener("pagehide", flush);
      this.setObjects("Email/set", {}, [...gone]).then(
        () => {
          release();
          void this.loadMailboxes();
        },
        (e) => {
          release();
          this.restore(before);
          this.fail(e, "Could not delete");
        },
      );
    }, UNDO_MS);
    // Leaving the page before then deletes at once: what the person did
    // stands.
    const flush = () => {
      clearTimeout(timer);
      void fetch(this.jmap.session.apiUrl, {
        method: "POST",
        keepalive: true,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": this.jmap.csrfToken },
        body: JSON.stringify({ using: ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"], methodCalls: [["Email/set", { accountId: this.accountId, destroy: [...gone] }, "d"]] }),
      });
    };
    window.addEventListener("pagehide", flush, { once: true });
    this.toast(`${gone.size === 1 ? "Message" : `${gone.size} messages`} deleted for good.`, () => {
      undone = true;
      clearTimeout(timer);
      window.removeEventListener("pagehide", flush);
      release();
      this.restore(before);
    });
  }

  // restoreFromTrash moves the target conversations back to the Inbox.
  async restoreFromTrash(): Promise<void> {
    const inbox = this.byRole("inbox");
    if (inbox) await this.move(inbox.id);
  }

  async markJunk(junk: boolean): Promise<void> {
    const dest = junk ? this.byRole("junk") : this.byRole("inbox");
    if (!dest) return;
    await this.move(dest.id, this.targets(), { keywords: junk ? { $junk: true, $notjunk: null } : { $junk: null, $notjunk: true } });
  }

  // --- the open conversation ---

  async openConversation(threadId: string): Promise<void> {
    performance.mark("mailroom-open-start");
    this.openThread = threadId;
    const i = this.rows.findIndex((id) => this.emails.get(id)?.threadId === threadId);
    if (i >= 0) this.focus = i;
    this.notify();
    try {
      await this.fetchThread(threadId);
    } catch (e) {
      this.fail(e, "Could not open the conversation");
      return;
    }
    this.notify();
    requestAnimationFrame(() => performance.measure("mailroom-open", "mailroom-open-start"));
    const unread = this.conversation(threadId, true).filter(isUnread);
    if (unread.length && this.openThread === threadId) {
      await this.setKeyword("$seen", true, [threadId]);
    }
  }

  closeConversation(): void {
    this.openThread = null;
    this.notify();
  }

  // --- push ---

  // changed handles a push: what changed in the account is read and the
  // list refreshed.
  async changed(types: Record<string, string>): Promise<void> {
    if (types.Mailbox && types.Mailbox !== this.mailboxState) {
      void this.loadMailboxes().catch(() => undefined);
    }
    if (types.Email && types.Email !== this.emailState) {
      await this.catchUpEmails();
    }
  }

  async catchUpEmails(): Promise<void> {
    if (!this.emailState) return this.reloadList();
    try {
      let more = true;
      while (more) {
        const r = await this.jmap.call<{ newState: string; updated: string[]; destroyed: string[]; hasMoreChanges: boolean }>("Email/changes", {
          accountId: this.accountId,
          sinceState: this.emailState,
          maxChanges: 500,
        });
        for (const id of r.destroyed) this.emails.delete(id);
        if (r.updated.length) {
          const g = await this.jmap.call<{ list: Email[] }>("Email/get", { accountId: this.accountId, ids: r.updated, properties: listProperties });
          this.absorb(g.list);
        }
        this.emailState = r.newState;
        more = r.hasMoreChanges;
      }
    } catch (e) {
      if (!(e instanceof MethodError && e.type === "cannotCalculateChanges")) throw e;
      this.emails.clear();
      this.emailState = "";
    }
    await this.reloadList();
    // The open conversation may have grown (a reply came in).
    if (this.openThread) await this.refreshThread(this.openThread);
  }

  // fetchThread reads a conversation's messages, with what reading needs.
  private async fetchThread(threadId: string): Promise<void> {
    const b = new Batch();
    const th = b.add("Thread/get", { accountId: this.accountId, ids: [threadId] });
    b.add("Email/get", { accountId: this.accountId, "#ids": b.ref(th, "/list/*/emailIds"), properties: readProperties });
    this.absorbBatch(await this.jmap.request(b), b);
  }

  private async refreshThread(threadId: string): Promise<void> {
    try {
      await this.fetchThread(threadId);
      this.notify();
    } catch {
      // The conversation is gone (deleted elsewhere): the list says so.
    }
  }
}
