import { useEffect, useRef } from "preact/hooks";
import { formatFullDate, formatListDate, formatSize } from "../model";
import * as route from "../route";
import type { MailState } from "../state";
import { startDrag } from "./drag";
import { Snippet } from "./Snippet";
import { Toolbar } from "./Toolbar";

// MessageList is the list of conversations of the view: who, what, when,
// how big and whether with attachments, so people decide before opening
// (summary browsing). Rows select with their checkbox (Shift-click for a
// range), open with a click, and drag onto a folder.
export function MessageList({ state }: { state: MailState }) {
  const sentinel = useRef<HTMLLIElement>(null);
  const listRef = useRef<HTMLUListElement>(null);

  useEffect(() => {
    const el = sentinel.current;
    if (!el) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void state.loadMore();
    });
    io.observe(el);
    return () => io.disconnect();
  });

  // The focused row stays in sight as j/k move it.
  useEffect(() => {
    listRef.current?.querySelector<HTMLElement>("li.focus")?.scrollIntoView({ block: "nearest" });
  }, [state.focus]);

  const open = (ev: MouseEvent, threadId: string, i: number) => {
    if (ev.button !== 0 || ev.ctrlKey || ev.metaKey) return;
    ev.preventDefault();
    if (ev.shiftKey) {
      state.toggle(threadId, true);
      return;
    }
    state.focus = i;
    const e = state.rowEmail(i);
    if (e && state.view.kind === "mailbox" && state.view.mailboxId === state.byRole("drafts")?.id) {
      // A draft opens to be written on.
      state.compose("draft", e.id);
      return;
    }
    void state.openConversation(threadId);
    route.go(state.view, threadId);
  };

  const empty = !state.loading && state.rows.length === 0 && !state.listError;
  const sentId = state.byRole("sent")?.id;
  const showTo = state.view.kind === "mailbox" && (state.view.mailboxId === sentId || state.view.mailboxId === state.byRole("drafts")?.id);

  return (
    <section class="list" id="list" aria-label="Messages" tabIndex={-1}>
      <Toolbar state={state} />
      {state.listError && (
        <p class="error" role="alert">
          {state.listError}{" "}
          <button type="button" onClick={() => void state.reloadList()}>
            Try again
          </button>
        </p>
      )}
      {empty && <p class="empty">{state.view.kind === "search" ? "No messages match." : "No messages here."}</p>}
      <ul class="rows" ref={listRef}>
        {state.rows.map((id, i) => {
          const r = state.rowSummary(id);
          if (!r) return null;
          const e = r.email;
          const sel = state.selected.has(e.threadId);
          const who = showTo ? (e.to ?? []).map((a) => a.name?.trim() || a.email).join(", ") : r.senders.join(", ");
          return (
            <li
              key={id}
              class={`row${r.unread ? " unread" : ""}${sel ? " selected" : ""}${i === state.focus ? " focus" : ""}`}
              data-thread={e.threadId}
              data-email={e.id}
              draggable
              onDragStart={(ev) => startDrag(ev, sel ? [...state.selected] : [e.threadId])}
            >
              <input
                type="checkbox"
                class="pick"
                checked={sel}
                aria-label={`Select: ${e.subject || "(no subject)"}`}
                onClick={(ev) => {
                  ev.preventDefault();
                  state.toggle(e.threadId, ev.shiftKey);
                }}
              />
              <button type="button" class={`star${r.flagged ? " on" : ""}`} aria-pressed={r.flagged} aria-label={r.flagged ? "Unstar" : "Star"} onClick={() => void state.setKeyword("$flagged", !r.flagged, [e.threadId])}>
                {r.flagged ? "★" : "☆"}
              </button>
              <a class="open" href={route.format(state.view, e.threadId)} onClick={(ev) => open(ev, e.threadId, i)}>
                <span class="who truncate" dir="auto">
                  {showTo ? `To: ${who}` : who || "(unknown sender)"}
                  {r.count > 1 && <span class="n"> {r.count}</span>}
                </span>
                <span class="what truncate" dir="auto">
                  <span class="subject">{e.subject || "(no subject)"}</span>
                  <span class="preview">
                    {" — "}
                    {state.view.kind === "search" ? <Snippet state={state} email={e} /> : e.preview}
                  </span>
                </span>
                <span class="meta">
                  {r.attachment && (
                    <span class="clip" title="Has attachments" role="img" aria-label="Has attachments">
                      📎
                    </span>
                  )}
                  <span class="size">{formatSize(r.size)}</span>
                  <time dateTime={e.receivedAt} title={`Received ${formatFullDate(e.receivedAt)}`}>
                    {formatListDate(e.receivedAt)}
                  </time>
                </span>
              </a>
            </li>
          );
        })}
        {state.rows.length < state.total && (
          <li class="sentinel" ref={sentinel}>
            {state.loading ? "Loading…" : ""}
          </li>
        )}
      </ul>
      {state.loading && state.rows.length === 0 && <p class="loading">Loading…</p>}
    </section>
  );
}
