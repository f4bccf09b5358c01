// Writing mail: the draft being written, saved to Drafts as it changes
// (JMAP Emails are immutable, so a save creates the new version and
// destroys the old in one request), and sent with EmailSubmission, held
// for a few seconds when the server can delay a submission (RFC 4865
// FUTURERELEASE), so that "Undo" can still stop it.

import { Batch, type Client } from "./jmap";
import { type BodyPart, type Email, type EmailAddress, formatAddress, formatFullDate } from "./model";

export interface Identity {
  id: string;
  name: string;
  email: string;
  textSignature: string;
  htmlSignature: string;
  replyTo: EmailAddress[] | null;
  bcc: EmailAddress[] | null;
}

export interface Attachment {
  key: string;
  name: string;
  type: string;
  size: number;
  blobId: string | null;
  progress: number; // 0..1 while uploading
  error: string;
}

export interface Draft {
  identityId: string;
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  // html is the rich text's markup (when rich), text the plain text.
  rich: boolean;
  html: string;
  text: string;
  attachments: Attachment[];
  inReplyTo: string[] | null;
  references: string[] | null;
  // savedId is the Drafts copy of this draft, if saved.
  savedId: string | null;
}

// UNDO_SEND_SECONDS is how long a sent message is held for "Undo".
export const UNDO_SEND_SECONDS = 10;

export function emptyDraft(identityId: string): Draft {
  return { identityId, to: "", cc: "", bcc: "", subject: "", rich: true, html: "", text: "", attachments: [], inReplyTo: null, references: null, savedId: null };
}

// parseAddresses splits what was typed in an address field: commas or
// semicolons between addresses, "Name <addr>" or a bare address. It
// returns the addresses and the parts that are not one.
export function parseAddresses(s: string): { list: EmailAddress[]; bad: string[] } {
  const list: EmailAddress[] = [];
  const bad: string[] = [];
  for (const part of splitAddresses(s)) {
    const m = part.match(/^(.*?)<\s*([^<>\s]+@[^<>\s]+)\s*>$/);
    if (m) {
      const name = m[1].trim().replace(/^"(.*)"$/, "$1").trim();
      list.push({ name: name || null, email: m[2] });
    } else if (/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(part)) {
      list.push({ name: null, email: part });
    } else {
      bad.push(part);
    }
  }
  return { list, bad };
}

function splitAddresses(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === "," || ch === ";")) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const escapeHTML = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export function textToHTML(text: string): string {
  return text
    .split("\n")
    .map((l) => escapeHTML(l) || "<br>")
    .map((l) => `<div>${l}</div>`)
    .join("");
}

// quoteOf builds the quoted original for a reply: "On …, … wrote:" and the
// text, each line behind "> " (plain) or in a blockquote (rich).
export function quoteOf(orig: Email, text: string): { text: string; html: string } {
  const who = orig.from?.[0] ? formatAddress(orig.from[0]) : "someone";
  const head = `On ${formatFullDate(orig.sentAt ?? orig.receivedAt)}, ${who} wrote:`;
  const lines = text.replace(/\r\n/g, "\n").trimEnd().split("\n");
  return {
    text: `\n\n${head}\n${lines.map((l) => `> ${l}`).join("\n")}\n`,
    html: `<div><br></div><div>${escapeHTML(head)}</div><blockquote type="cite">${textToHTML(lines.join("\n"))}</blockquote>`,
  };
}

export function forwardOf(orig: Email, text: string): { text: string; html: string } {
  const head = [
    "---------- Forwarded message ----------",
    `From: ${(orig.from ?? []).map(formatAddress).join(", ")}`,
    `Date: ${formatFullDate(orig.sentAt ?? orig.receivedAt)}`,
    `Subject: ${orig.subject ?? ""}`,
    `To: ${(orig.to ?? []).map(formatAddress).join(", ")}`,
  ].join("\n");
  const body = `${head}\n\n${text.replace(/\r\n/g, "\n")}`;
  return { text: `\n\n${body}`, html: `<div><br></div>${textToHTML(body)}` };
}

export function prefixed(prefix: string, subject: string | null): string {
  const s = subject ?? "";
  return new RegExp(`^${prefix}:`, "i").test(s) ? s : `${prefix}: ${s}`;
}

// plainOf turns the rich text's DOM into the text/plain alternative:
// blocks on lines, quotes behind "> ", links as "text <url>".
export function plainOf(root: Node): string {
  const out: string[] = [];
  let line = "";
  const flush = () => {
    out.push(line);
    line = "";
  };
  const walk = (n: Node, quote: string) => {
    if (n.nodeType === Node.TEXT_NODE) {
      line += (n.textContent ?? "").replace(/\s+/g, " ");
      return;
    }
    if (!(n instanceof Element)) return;
    const tag = n.tagName;
    if (tag === "BR") {
      out.push(quote + line);
      line = "";
      return;
    }
    const block = /^(DIV|P|LI|BLOCKQUOTE|UL|OL|H[1-6])$/.test(tag);
    if (block && line) {
      out.push(quote + line);
      line = "";
    }
    const q = tag === "BLOCKQUOTE" ? `${quote}> ` : quote;
    if (tag === "LI") line += n.parentElement?.tagName === "OL" ? `${Array.from(n.parentElement.children).indexOf(n) + 1}. ` : "- ";
    for (const c of Array.from(n.childNodes)) walk(c, q);
    if (tag === "A") {
      const href = n.getAttribute("href");
      if (href && href !== n.textContent) line += ` <${href}>`;
    }
    if (block && line) {
      out.push(quote + line);
      line = "";
    }
  };
  walk(root, "");
  if (line) flush();
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

// cleanHTML keeps the markup the editor makes and nothing else (pasted
// content brings anything): the elements of the toolbar and no
// attributes but a link's href.
export function cleanHTML(root: Node): string {
  const allowed = new Set(["B", "STRONG", "I", "EM", "U", "UL", "OL", "LI", "BLOCKQUOTE", "A", "BR", "DIV", "P", "SPAN"]);
  const walk = (n: Node): string => {
    if (n.nodeType === Node.TEXT_NODE) return escapeHTML(n.textContent ?? "");
    if (!(n instanceof Element)) return "";
    const inner = Array.from(n.childNodes).map(walk).join("");
    if (!allowed.has(n.tagName)) return /^(SCRIPT|STYLE|IFRAME|OBJECT|TEMPLATE)$/.test(n.tagName) ? "" : inner;
    const tag = n.tagName.toLowerCase();
    if (tag === "a") {
      const href = n.getAttribute("href") ?? "";
      if (!/^(https?:|mailto:)/i.test(href)) return inner;
      return `<a href="${escapeHTML(href)}">${inner}</a>`;
    }
    if (tag === "br") return "<br>";
    if (tag === "blockquote") return `<blockquote type="cite">${inner}</blockquote>`;
    return `<${tag}>${inner}</${tag}>`;
  };
  return Array.from(root.childNodes).map(walk).join("");
}

// emailObject is the JMAP Email the draft makes.
export function emailObject(d: Draft, ident: Identity, draftsId: string, htmlBody: string, textBody: string): Record<string, unknown> {
  const to = parseAddresses(d.to).list;
  const cc = parseAddresses(d.cc).list;
  const bcc = parseAddresses(d.bcc).list;
  const e: Record<string, unknown> = {
    mailboxIds: { [draftsId]: true },
    keywords: { $draft: true, $seen: true },
    from: [{ name: ident.name || null, email: ident.email }],
    subject: d.subject,
    bodyValues: { text: { value: textBody } },
    textBody: [{ partId: "text", type: "text/plain" }],
    attachments: d.attachments.filter((a) => a.blobId).map((a) => ({ blobId: a.blobId, type: a.type || "application/octet-stream", name: a.name, disposition: "attachment" })),
  };
  if (to.length) e.to = to;
  if (cc.length) e.cc = cc;
  if (bcc.length) e.bcc = bcc;
  if (ident.replyTo?.length) e.replyTo = ident.replyTo;
  if (d.inReplyTo?.length) e.inReplyTo = d.inReplyTo;
  if (d.references?.length) e.references = d.references;
  if (d.rich) {
    (e.bodyValues as Record<string, unknown>).html = { value: `<!doctype html><html><body>${htmlBody}</body></html>` };
    e.htmlBody = [{ partId: "html", type: "text/html" }];
  }
  return e;
}

// saveDraft stores the draft in Drafts, replacing its earlier copy; it
// returns the new copy's id.
export async function saveDraft(jmap: Client, accountId: string, email: Record<string, unknown>, previous: string | null): Promise<string> {
  const args: Record<string, unknown> = { accountId, create: { draft: email } };
  if (previous) args.destroy = [previous];
  const r = await jmap.call<{ created?: Record<string, { id: string }>; notCreated?: Record<string, { type: string; description?: string }> }>("Email/set", args);
  const made = r.created?.draft;
  if (!made) {
    const e = r.notCreated?.draft;
    throw new Error(e?.description || e?.type || "the draft was not saved");
  }
  return made.id;
}

export interface Sent {
  submissionId: string;
  emailId: string;
  held: boolean;
}

// send stores the final draft and submits it in one request; the copy
// moves from Drafts to Sent when the submission is accepted. With hold,
// the server keeps it for UNDO_SEND_SECONDS first.
export async function send(jmap: Client, accountId: string, email: Record<string, unknown>, previous: string | null, ident: Identity, draftsId: string, sentId: string | null, hold: boolean): Promise<Sent> {
  const b = new Batch();
  const setArgs: Record<string, unknown> = { accountId, create: { msg: email } };
  if (previous) setArgs.destroy = [previous];
  const set = b.add("Email/set", setArgs);
  const rcpts = ["to", "cc", "bcc"].flatMap((k) => (email[k] as EmailAddress[] | undefined) ?? []).map((a) => ({ email: a.email, parameters: null }));
  const submission: Record<string, unknown> = { identityId: ident.id, emailId: "#msg" };
  if (hold) {
    submission.envelope = { mailFrom: { email: ident.email, parameters: { HOLDFOR: String(UNDO_SEND_SECONDS) } }, rcptTo: rcpts };
  }
  const update: Record<string, unknown> = { [`mailboxIds/${draftsId}`]: null, "keywords/$draft": null };
  if (sentId) update[`mailboxIds/${sentId}`] = true;
  const sub = b.add("EmailSubmission/set", { accountId, create: { sub: submission }, onSuccessUpdateEmail: { "#sub": update } });
  const res = await jmap.request(b);
  const s = res.get<{ created?: Record<string, { id: string }>; notCreated?: Record<string, { type: string; description?: string }> }>(set);
  const emailId = s.created?.msg?.id;
  if (!emailId) {
    const e = s.notCreated?.msg;
    throw new Error(e?.description || e?.type || "the message could not be stored");
  }
  const r = res.get<{ created?: Record<string, { id: string; undoStatus?: string }>; notCreated?: Record<string, { type: string; description?: string }> }>(sub);
  const made = r.created?.sub;
  if (!made) {
    const e = r.notCreated?.sub;
    const err = new Error(e?.description || e?.type || "the message was not sent") as Error & { emailId?: string };
    err.emailId = emailId;
    throw err;
  }
  return { submissionId: made.id, emailId, held: hold && made.undoStatus === "pending" };
}

// unsend cancels a held submission and puts the message back in Drafts.
export async function unsend(jmap: Client, accountId: string, s: Sent, draftsId: string, sentId: string | null): Promise<void> {
  const b = new Batch();
  const c = b.add("EmailSubmission/set", { accountId, update: { [s.submissionId]: { undoStatus: "canceled" } } });
  const res = await jmap.request(b);
  const r = res.get<{ notUpdated?: Record<string, { type: string; description?: string }> }>(c);
  const e = r.notUpdated?.[s.submissionId];
  if (e) throw new Error(e.type === "cannotUnsend" ? "it has already gone" : e.description || e.type);
  const back: Record<string, unknown> = { [`mailboxIds/${draftsId}`]: true, "keywords/$draft": true };
  if (sentId) back[`mailboxIds/${sentId}`] = null;
  await jmap.call("Email/set", { accountId, update: { [s.emailId]: back } });
}

// textOf fetches the text of a message for quoting.
export async function textOf(jmap: Client, accountId: string, emailId: string): Promise<{ email: Email; text: string; html: string | null }> {
  const r = await jmap.call<{ list: (Email & { bodyValues: Record<string, { value: string }>; textBody: BodyPart[]; htmlBody: BodyPart[]; bcc?: EmailAddress[] | null })[] }>("Email/get", {
    accountId,
    ids: [emailId],
    properties: ["id", "threadId", "mailboxIds", "keywords", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "receivedAt", "messageId", "inReplyTo", "references", "textBody", "htmlBody", "bodyValues", "attachments", "size", "preview", "hasAttachment"],
    fetchTextBodyValues: true,
    fetchHTMLBodyValues: true,
    maxBodyValueBytes: 256 * 1024,
  });
  const e = r.list[0];
  if (!e) throw new Error("the message is gone");
  const text = (e.textBody ?? []).map((p) => (p.partId ? (e.bodyValues[p.partId]?.value ?? "") : "")).join("\n");
  const htmlPart = (e.htmlBody ?? []).find((p) => p.type === "text/html");
  const html = htmlPart?.partId ? (e.bodyValues[htmlPart.partId]?.value ?? null) : null;
  return { email: e, text, html };
}

// suggest looks up addresses for a compose field (the server's
// Suggestion/query extension; without it, nothing).
export async function suggest(jmap: Client, accountId: string, text: string): Promise<EmailAddress[]> {
  if (!jmap.session.capabilities["urn:mailroom:params:jmap:suggest"]) return [];
  const r = await jmap.call<{ list: { email: string; name: string | null }[] }>("Suggestion/query", { accountId, text, limit: 8 });
  return r.list.map((x) => ({ name: x.name || null, email: x.email }));
}

// canHoldSubmissions says whether the server can delay a submission
// (RFC 4865 FUTURERELEASE) by UNDO_SEND_SECONDS, which "Undo" after Send
// needs.
export function canHoldSubmissions(jmap: Client, accountId: string): boolean {
  const acct = jmap.session.accounts[accountId];
  const cap = acct?.accountCapabilities["urn:ietf:params:jmap:submission"] as { maxDelayedSend?: number; submissionExtensions?: Record<string, unknown> } | undefined;
  return !!cap && (cap.maxDelayedSend ?? 0) >= UNDO_SEND_SECONDS && !!cap.submissionExtensions && "FUTURERELEASE" in cap.submissionExtensions;
}
