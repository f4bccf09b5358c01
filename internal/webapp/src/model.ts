// The JMAP Mail objects (RFC 8621) as the webmail uses them.

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface Mailbox {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
  sortOrder: number;
  totalEmails: number;
  unreadEmails: number;
  totalThreads: number;
  unreadThreads: number;
  isSubscribed: boolean;
  myRights: Record<string, boolean>;
}

export interface Email {
  id: string;
  threadId: string;
  mailboxIds: Record<string, boolean>;
  keywords: Record<string, boolean>;
  from: EmailAddress[] | null;
  to?: EmailAddress[] | null;
  cc?: EmailAddress[] | null;
  replyTo?: EmailAddress[] | null;
  subject: string | null;
  receivedAt: string;
  sentAt: string | null;
  size: number;
  hasAttachment: boolean;
  preview: string;
  messageId?: string[] | null;
  inReplyTo?: string[] | null;
  references?: string[] | null;
  attachments?: BodyPart[];
  blobId?: string;
}

export interface BodyPart {
  partId: string | null;
  blobId: string | null;
  size: number;
  name: string | null;
  type: string;
  disposition: string | null;
  cid: string | null;
}

export interface Thread {
  id: string;
  emailIds: string[];
}

// The properties the list needs: summary browsing (RFC 3501's "headers
// first") — who, what, when, how big, with attachments — without bodies.
export const listProperties = [
  "id",
  "threadId",
  "mailboxIds",
  "keywords",
  "from",
  "to",
  "subject",
  "receivedAt",
  "sentAt",
  "size",
  "hasAttachment",
  "preview",
];

// What a message of an open conversation adds to the list's properties.
export const readProperties = [
  ...listProperties,
  "cc",
  "replyTo",
  "messageId",
  "inReplyTo",
  "references",
  "attachments",
  "blobId",
];

export const mailboxProperties = [
  "id",
  "name",
  "parentId",
  "role",
  "sortOrder",
  "totalEmails",
  "unreadEmails",
  "totalThreads",
  "unreadThreads",
  "isSubscribed",
  "myRights",
];

export function isUnread(e: Email): boolean {
  return !e.keywords.$seen && !e.keywords.$draft;
}

export function isFlagged(e: Email): boolean {
  return !!e.keywords.$flagged;
}

export function inMailbox(e: Email, mailboxId: string): boolean {
  return !!e.mailboxIds[mailboxId];
}

export function displayName(a: EmailAddress | undefined | null): string {
  if (!a) return "";
  return a.name?.trim() || a.email;
}

export function formatAddress(a: EmailAddress): string {
  if (!a.name) return a.email;
  const quoted = /[",;<>@()[\]\\:]/.test(a.name) ? `"${a.name.replace(/["\\]/g, "\\$&")}"` : a.name;
  return `${quoted} <${a.email}>`;
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// formatListDate is the list's date: the time today, the day this year,
// the full date before.
export function formatListDate(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
  }
  if (d.getFullYear() === now.getFullYear()) {
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }
  return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function formatFullDate(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// roleOrder puts the special folders first, in the order people expect.
const roleOrder = ["inbox", "drafts", "sent", "archive", "junk", "trash"];

export function sortMailboxes(list: Mailbox[]): Mailbox[] {
  const rank = (m: Mailbox) => {
    const i = m.role ? roleOrder.indexOf(m.role) : -1;
    return i < 0 ? roleOrder.length : i;
  };
  return [...list].sort((a, b) => rank(a) - rank(b) || a.sortOrder - b.sortOrder || a.name.localeCompare(b.name));
}
