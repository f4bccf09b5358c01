import { useEffect, useRef, useState } from "preact/hooks";
import { type BodyPart, displayName, type Email, formatAddress, formatFullDate, formatSize, isUnread } from "../model";
import * as route from "../route";
import type { MailState } from "../state";
import { MailFrame } from "./MailFrame";
import { Preview } from "./Preview";

// Reader shows the open conversation: every message of the thread, in any
// folder, oldest first; read messages collapsed to one line except the
// last, unread ones open.
export function Reader({ state }: { state: MailState }) {
  const threadId = state.openThread!;
  const msgs = state.conversation(threadId, true).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [preview, setPreview] = useState<{ email: Email; part: BodyPart } | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  // A new conversation starts with its unread messages and its last one
  // open.
  const key = `${threadId}:${msgs.length}`;
  useEffect(() => {
    const open = new Set(msgs.filter(isUnread).map((m) => m.id));
    if (msgs.length) open.add(msgs[msgs.length - 1].id);
    setExpanded(open);
  }, [key]);
  useEffect(() => heading.current?.focus({ preventScroll: true }), [threadId]);

  const i = state.rows.findIndex((id) => state.emails.get(id)?.threadId === threadId);
  const step = (d: number) => {
    const e = state.rowEmail(i + d);
    if (!e) return;
    void state.openConversation(e.threadId);
    route.go(state.view, e.threadId);
  };
  const back = () => {
    state.closeConversation();
    route.go(state.view);
  };

  const subject = msgs[msgs.length - 1]?.subject || msgs[0]?.subject || "(no subject)";
  return (
    <article class="reader" aria-label="Conversation">
      <div class="readbar">
        <button type="button" class="back" onClick={back} title="Back to the list (u)">
          ← Back
        </button>
        <span class="steps">
          <button type="button" disabled={i <= 0} onClick={() => step(-1)} title="Newer (k)" aria-label="Newer conversation">
            ‹
          </button>
          <button type="button" disabled={i < 0 || i >= state.rows.length - 1} onClick={() => step(1)} title="Older (j)" aria-label="Older conversation">
            ›
          </button>
        </span>
        {msgs.length > 1 && (
          <button type="button" onClick={() => setExpanded(new Set(msgs.map((m) => m.id)))}>
            Expand all
          </button>
        )}
      </div>
      <h1 tabIndex={-1} ref={heading} dir="auto" class="subject">
        {subject}
      </h1>
      {msgs.length === 0 && <p class="loading">Loading…</p>}
      {msgs.map((m) =>
        expanded.has(m.id) ? (
          <Message key={m.id} state={state} email={m} onCollapse={msgs.length > 1 ? () => setExpanded(without(expanded, m.id)) : undefined} onPreview={(part) => setPreview({ email: m, part })} />
        ) : (
          <button key={m.id} type="button" class="collapsed" data-email={m.id} onClick={() => setExpanded(new Set([...expanded, m.id]))}>
            <span class="who truncate">{displayName(m.from?.[0])}</span>
            <span class="preview truncate" dir="auto">
              {m.preview}
            </span>
            <time dateTime={m.receivedAt}>{formatFullDate(m.receivedAt)}</time>
          </button>
        ),
      )}
      {preview && <Preview state={state} email={preview.email} part={preview.part} onClose={() => setPreview(null)} />}
    </article>
  );
}

function without(s: Set<string>, id: string): Set<string> {
  const n = new Set(s);
  n.delete(id);
  return n;
}

function Message({ state, email, onCollapse, onPreview }: { state: MailState; email: Email; onCollapse?: () => void; onPreview: (p: BodyPart) => void }) {
  const folders = Object.keys(email.mailboxIds)
    .map((id) => state.mailboxes.get(id))
    .filter((m) => m && !(state.view.kind === "mailbox" && m.id === state.view.mailboxId));
  // Images the HTML shows by Content-ID are in the text already (RFC
  // 8621 lists them with the attachments): not listed again.
  const atts = (email.attachments ?? []).filter((p) => !(p.cid && p.disposition !== "attachment"));
  const acct = state.accountId;
  return (
    <section class="message" data-email={email.id} aria-label={`From ${displayName(email.from?.[0])}`}>
      <header class="msghead" onClick={onCollapse}>
        <div class="from" dir="auto">
          <strong>{displayName(email.from?.[0])}</strong> {email.from?.[0]?.name && <span class="addr">&lt;{email.from[0].email}&gt;</span>}
        </div>
        <div class="dates">
          <time dateTime={email.sentAt ?? email.receivedAt} title="Date the sender gave">
            {formatFullDate(email.sentAt ?? email.receivedAt)}
          </time>
          {email.sentAt && Math.abs(Date.parse(email.receivedAt) - Date.parse(email.sentAt)) > 5 * 60 * 1000 && (
            <span class="received" title="When it reached this server">
              {" "}
              (received {formatFullDate(email.receivedAt)})
            </span>
          )}
        </div>
        <div class="to" dir="auto">
          {email.to?.length ? <>To: {email.to.map(formatAddress).join(", ")}</> : null}
          {email.cc?.length ? <> · Cc: {email.cc.map(formatAddress).join(", ")}</> : null}
        </div>
        {folders.length > 0 && (
          <div class="chips">
            {folders.map((m) => (
              <span key={m!.id} class="chip">
                {m!.name}
              </span>
            ))}
          </div>
        )}
      </header>
      <div class="msgactions">
        <button type="button" onClick={() => state.compose(email.keywords.$draft ? "draft" : "reply", email.id)}>
          {email.keywords.$draft ? "Edit draft" : "Reply"}
        </button>
        {!email.keywords.$draft && (
          <>
            <button type="button" onClick={() => state.compose("replyAll", email.id)}>
              Reply all
            </button>
            <button type="button" onClick={() => state.compose("forward", email.id)}>
              Forward
            </button>
          </>
        )}
      </div>
      <MailFrame accountId={acct} emailId={email.id} />
      {atts.length > 0 && (
        <div class="attachments">
          <ul>
            {atts.map((p) => (
              <li key={p.partId ?? p.blobId}>
                {previewable(p) ? (
                  <button type="button" class="link" onClick={() => onPreview(p)}>
                    {p.name || "(unnamed)"}
                  </button>
                ) : (
                  <span>{p.name || "(unnamed)"}</span>
                )}{" "}
                <span class="size">{formatSize(p.size)}</span>{" "}
                {p.blobId && (
                  <a href={state.jmap.downloadURL(acct, p.blobId, p.name || "attachment", p.type)} download={p.name || "attachment"}>
                    Download
                  </a>
                )}
              </li>
            ))}
          </ul>
          {atts.length > 1 && (
            <a class="button" href={`/app/zip/${encodeURIComponent(acct)}/${encodeURIComponent(email.id)}`} download>
              Download all ({atts.length}) as zip
            </a>
          )}
        </div>
      )}
    </section>
  );
}

export function previewable(p: BodyPart): boolean {
  return /^image\/(png|jpeg|gif|webp)$/i.test(p.type) || /^application\/pdf$/i.test(p.type);
}
