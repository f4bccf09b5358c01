import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import {
  type Attachment,
  canHoldSubmissions,
  cleanHTML,
  type Draft,
  emailObject,
  emptyDraft,
  forwardOf,
  parseAddresses,
  plainOf,
  prefixed,
  quoteOf,
  type Sent,
  saveDraft,
  send,
  suggest,
  textOf,
  textToHTML,
  UNDO_SEND_SECONDS,
  unsend,
} from "../compose";
import { type EmailAddress, formatAddress } from "../model";
import { message } from "../errors";
import type { MailState } from "../state";
import { AddressField } from "./AddressField";
import { RichEditor } from "./RichEditor";

// AUTOSAVE_MS is how soon after the last change a draft is saved.
const AUTOSAVE_MS = 2000;

// Compose writes a message, a reply or a forward, or goes on with a
// draft. The draft is saved to Drafts a moment after each change, so
// neither a closed tab nor a restart loses it; leaving with unsaved
// changes asks first.
export function Compose({ state }: { state: MailState }) {
  const c = state.composing!;
  const [draft, setDraft] = useState<Draft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [status, setStatus] = useState("");
  const [showCc, setShowCc] = useState(false);
  const [dropping, setDropping] = useState(false);
  const dirty = useRef(false);
  const saving = useRef<Promise<void> | null>(null);
  const editor = useRef<HTMLDivElement>(null);
  const latest = useRef<Draft | null>(null);
  latest.current = draft;
  const suggester = useCallback((text: string) => suggest(state.jmap, state.accountId, text), [state]);

  // Build the draft the pane was opened for.
  useEffect(() => {
    let live = true;
    (async () => {
      if (!state.identities.length) await state.loadIdentities();
      const ident = state.identities[0];
      const d = emptyDraft(ident?.id ?? "");
      const sig = ident?.textSignature ? `\n\n-- \n${ident.textSignature}` : "";
      if (c.mode === "new") {
        d.text = sig;
      } else if (c.emailId) {
        const { email, text, html } = await textOf(state.jmap, state.accountId, c.emailId);
        if (c.mode === "draft") {
          d.savedId = email.id;
          d.to = (email.to ?? []).map(formatAddress).join(", ");
          d.cc = (email.cc ?? []).map(formatAddress).join(", ");
          d.bcc = ((email as { bcc?: EmailAddress[] | null }).bcc ?? []).map(formatAddress).join(", ");
          d.subject = email.subject ?? "";
          d.inReplyTo = email.inReplyTo ?? null;
          d.references = email.references ?? null;
          d.rich = html !== null;
          d.text = text;
          d.html = html !== null ? cleanHTML(new DOMParser().parseFromString(html, "text/html").body) : "";
          const from = email.from?.[0]?.email.toLowerCase();
          d.identityId = state.identities.find((i) => i.email.toLowerCase() === from)?.id ?? d.identityId;
          d.attachments = (email.attachments ?? []).map((p, i) => ({ key: `a${i}`, name: p.name ?? "attachment", type: p.type, size: p.size, blobId: p.blobId, progress: 1, error: "" }));
        } else if (c.mode === "forward") {
          d.subject = prefixed("Fwd", email.subject);
          const f = forwardOf(email, text);
          d.text = sig + f.text;
          d.html = textToHTML(sig) + f.html;
          d.attachments = (email.attachments ?? []).map((p, i) => ({ key: `a${i}`, name: p.name ?? "attachment", type: p.type, size: p.size, blobId: p.blobId, progress: 1, error: "" }));
        } else {
          const me = new Set(state.identities.map((i) => i.email.toLowerCase()));
          const sender = email.replyTo?.length ? email.replyTo : (email.from ?? []);
          d.to = sender.map(formatAddress).join(", ");
          if (c.mode === "replyAll") {
            const seen = new Set(sender.map((a) => a.email.toLowerCase()));
            const others = [...(email.to ?? []), ...(email.cc ?? [])].filter((a) => {
              const k = a.email.toLowerCase();
              if (me.has(k) || seen.has(k)) return false;
              seen.add(k);
              return true;
            });
            d.cc = others.map(formatAddress).join(", ");
          }
          d.subject = prefixed("Re", email.subject);
          const mid = email.messageId ?? [];
          d.inReplyTo = mid.length ? mid : null;
          d.references = [...(email.references ?? []), ...mid];
          const q = quoteOf(email, text);
          d.text = sig + q.text;
          d.html = textToHTML(sig) + q.html;
        }
      }
      if (!d.html) d.html = textToHTML(d.text);
      if (live) {
        setDraft(d);
        setShowCc(!!(d.cc || d.bcc));
      }
    })().catch((e) => state.fail(e, "Could not open the message to write"));
    return () => {
      live = false;
    };
  }, [c.key]);

  const update = (patch: Partial<Draft>) => {
    dirty.current = true;
    setStatus("");
    setDraft((d) => (d ? { ...d, ...patch } : d));
  };

  const bodies = useCallback((d: Draft) => {
    if (d.rich && editor.current) return { html: cleanHTML(editor.current), text: plainOf(editor.current) };
    return { html: "", text: d.text };
  }, []);

  const save = useCallback(async () => {
    const d = latest.current;
    if (!d || !dirty.current) return;
    if (saving.current) await saving.current;
    const drafts = state.byRole("drafts");
    const ident = state.identities.find((i) => i.id === d.identityId) ?? state.identities[0];
    if (!drafts || !ident) return;
    dirty.current = false;
    const b = bodies(d);
    const job = (async () => {
      try {
        const id = await saveDraft(state.jmap, state.accountId, emailObject(d, ident, drafts.id, b.html, b.text), d.savedId);
        d.savedId = id;
        if (latest.current) latest.current.savedId = id;
        setStatus(`Draft saved at ${new Date().toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" })}`);
      } catch (e) {
        dirty.current = true;
        setStatus(message(e, "The draft could not be saved"));
      }
    })();
    saving.current = job;
    await job;
    saving.current = null;
  }, [state, bodies]);

  // Autosave a moment after the last change.
  useEffect(() => {
    if (!draft || !dirty.current) return;
    const t = setTimeout(() => void save(), AUTOSAVE_MS);
    return () => clearTimeout(t);
  }, [draft, save]);

  // Leaving with unsaved changes asks first (and saves what it can).
  useEffect(() => {
    const warn = (ev: BeforeUnloadEvent) => {
      if (!dirty.current && !latest.current?.attachments.some((a) => a.progress < 1)) return;
      void save();
      ev.preventDefault();
      ev.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [save]);

  const attach = (files: FileList | File[]) => {
    for (const f of Array.from(files)) {
      const key = `u${Date.now()}${Math.random()}`;
      const a: Attachment = { key, name: f.name, type: f.type || "application/octet-stream", size: f.size, blobId: null, progress: 0, error: "" };
      setDraft((d) => (d ? { ...d, attachments: [...d.attachments, a] } : d));
      const set = (p: Partial<Attachment>) => setDraft((d) => (d ? { ...d, attachments: d.attachments.map((x) => (x.key === key ? { ...x, ...p } : x)) } : d));
      state.jmap
        .upload(state.accountId, f, (p) => set({ progress: p }))
        .then(
          (r) => {
            set({ blobId: r.blobId, progress: 1 });
            dirty.current = true;
            setDraft((d) => (d ? { ...d } : d));
          },
          (e) => set({ error: message(e, "Upload failed"), progress: 1 }),
        );
    }
  };

  const close = async () => {
    await save();
    state.closeCompose();
  };

  const discard = async () => {
    const id = latest.current?.savedId;
    dirty.current = false;
    state.closeCompose();
    if (id) {
      try {
        await state.jmap.call("Email/set", { accountId: state.accountId, destroy: [id] });
        state.toast("Draft discarded.");
      } catch (e) {
        state.fail(e, "Could not discard the draft");
      }
    }
  };

  const submit = async () => {
    const d = latest.current;
    if (!d) return;
    const errs: Record<string, string> = {};
    for (const k of ["to", "cc", "bcc"] as const) {
      const { bad } = parseAddresses(d[k]);
      if (bad.length) errs[k] = `Not an email address: ${bad.join(", ")}`;
    }
    const all = ["to", "cc", "bcc"].flatMap((k) => parseAddresses(d[k as "to"]).list);
    if (!all.length && !errs.to) errs.to = "Who is it for? Give at least one address.";
    if (d.attachments.some((a) => a.progress < 1)) errs.attachments = "Wait until the attachments are uploaded.";
    setErrors(errs);
    if (Object.keys(errs).length) return;
    const drafts = state.byRole("drafts");
    const ident = state.identities.find((i) => i.id === d.identityId);
    if (!drafts || !ident) {
      setErrors({ from: "There is no identity to send from." });
      return;
    }
    if (saving.current) await saving.current;
    const b = bodies(d);
    const sentBox = state.byRole("sent")?.id ?? null;
    const hold = canHoldSubmissions(state.jmap, state.accountId);
    setStatus("Sending…");
    let s: Sent;
    try {
      s = await send(state.jmap, state.accountId, emailObject(d, ident, drafts.id, b.html, b.text), d.savedId, ident, drafts.id, sentBox, hold);
    } catch (e) {
      const id = (e as { emailId?: string }).emailId;
      if (id) d.savedId = id;
      setStatus("");
      setErrors({ send: message(e, "Not sent") });
      return;
    }
    dirty.current = false;
    state.closeCompose();
    if (!s.held) {
      state.toast("Message sent.");
      return;
    }
    state.toast(
      "Sending…",
      () => {
        unsend(state.jmap, state.accountId, s, drafts.id, sentBox).then(
          () => {
            state.toast("Sending undone: the message is back in Drafts.");
            state.compose("draft", s.emailId);
          },
          (e) => state.fail(e, "Could not undo"),
        );
      },
      false,
      UNDO_SEND_SECONDS * 1000 - 500,
    );
  };

  if (!draft) {
    return (
      <section class="compose" aria-label="Write">
        <p class="loading">Loading…</p>
      </section>
    );
  }
  const title = { new: "New message", reply: "Reply", replyAll: "Reply to all", forward: "Forward", draft: "Draft" }[c.mode];
  return (
    <section
      class={`compose${dropping ? " dropping" : ""}`}
      aria-labelledby="compose-title"
      onDragOver={(ev) => {
        if (ev.dataTransfer?.types.includes("Files")) {
          ev.preventDefault();
          setDropping(true);
        }
      }}
      onDragLeave={() => setDropping(false)}
      onDrop={(ev) => {
        if (!ev.dataTransfer?.files.length) return;
        ev.preventDefault();
        setDropping(false);
        attach(ev.dataTransfer.files);
      }}
    >
      <div class="composebar">
        <h2 id="compose-title">{title}</h2>
        <span class="status" role="status">
          {status}
        </span>
        <button type="button" onClick={() => void close()} aria-label="Close (the draft is kept)">
          Close
        </button>
      </div>
      {/* Enter in a field never sends (it takes an address suggestion);
          the Send button or Ctrl+Enter does. */}
      <form
        noValidate
        onSubmit={(ev) => ev.preventDefault()}
        onKeyDown={(ev) => {
          if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
            ev.preventDefault();
            void submit();
          }
        }}
      >
        <div class="field">
          <label for="compose-from">From</label>
          <select id="compose-from" value={draft.identityId} onChange={(ev) => update({ identityId: (ev.target as HTMLSelectElement).value })}>
            {state.identities.map((i) => (
              <option key={i.id} value={i.id}>
                {formatAddress({ name: i.name || null, email: i.email })}
              </option>
            ))}
          </select>
          {errors.from && <p class="fielderror">{errors.from}</p>}
        </div>
        <AddressField id="compose-to" label="To" value={draft.to} error={errors.to ?? ""} onChange={(v) => update({ to: v })} suggest={suggester} />
        {showCc ? (
          <>
            <AddressField id="compose-cc" label="Cc" value={draft.cc} error={errors.cc ?? ""} onChange={(v) => update({ cc: v })} suggest={suggester} />
            <AddressField id="compose-bcc" label="Bcc" value={draft.bcc} error={errors.bcc ?? ""} onChange={(v) => update({ bcc: v })} suggest={suggester} />
          </>
        ) : (
          <button type="button" class="link cc" onClick={() => setShowCc(true)}>
            Cc and Bcc
          </button>
        )}
        <div class="field">
          <label for="compose-subject">Subject</label>
          <input id="compose-subject" type="text" value={draft.subject} onInput={(ev) => update({ subject: (ev.target as HTMLInputElement).value })} />
        </div>
        {draft.rich ? (
          <RichEditor
            editorRef={editor}
            initial={draft.html}
            onChange={() => update({})}
            onPlain={() => {
              const text = editor.current ? plainOf(editor.current) : draft.text;
              update({ rich: false, text });
            }}
          />
        ) : (
          <div class="field body">
            <div class="formatbar">
              <label for="compose-body">Message</label>
              <button type="button" class="link" onClick={() => update({ rich: true, html: textToHTML(draft.text) })}>
                Rich text
              </button>
            </div>
            <textarea id="compose-body" rows={14} value={draft.text} onInput={(ev) => update({ text: (ev.target as HTMLTextAreaElement).value })} />
          </div>
        )}
        <div class="attach">
          <label class="button">
            Attach files
            <input
              type="file"
              multiple
              class="sr-only"
              onChange={(ev) => {
                const f = (ev.target as HTMLInputElement).files;
                if (f) attach(f);
                (ev.target as HTMLInputElement).value = "";
              }}
            />
          </label>{" "}
          <span class="hint">or drop them here</span>
          {draft.attachments.length > 0 && (
            <ul>
              {draft.attachments.map((a) => (
                <li key={a.key} class={a.error ? "failed" : ""}>
                  <span class="truncate">{a.name}</span>
                  {a.progress < 1 ? <progress value={a.progress} max={1} aria-label={`Uploading ${a.name}`} /> : null}
                  {a.error && <span class="fielderror">{a.error}</span>}
                  <button type="button" class="link" aria-label={`Remove ${a.name}`} onClick={() => update({ attachments: draft.attachments.filter((x) => x.key !== a.key) })}>
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          )}
          {errors.attachments && <p class="fielderror">{errors.attachments}</p>}
        </div>
        {errors.send && (
          <p class="fielderror" role="alert">
            {errors.send}
          </p>
        )}
        <div class="actions">
          <button type="button" class="primary" onClick={() => void submit()} title="Send (Ctrl+Enter)">
            Send
          </button>
          <button type="button" onClick={() => void discard()}>
            Discard
          </button>
        </div>
      </form>
    </section>
  );
}
