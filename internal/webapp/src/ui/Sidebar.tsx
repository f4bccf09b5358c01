import { useState } from "preact/hooks";
import type { Mailbox } from "../model";
import * as route from "../route";
import type { MailState } from "../state";
import { dragType, draggedThreads } from "./drag";

// Sidebar lists the folders with their unread counts, live. Folders the
// user hid (IMAP unsubscribed: the same choice every client sees) are
// under "More", where they can be shown again. Conversations dropped on a
// folder move there.
export function Sidebar({ state }: { state: MailState }) {
  const [more, setMore] = useState(false);
  const [over, setOver] = useState("");
  const all = state.sortedMailboxes();
  const shown = all.filter((m) => m.isSubscribed || m.role === "inbox");
  const hidden = all.filter((m) => !m.isSubscribed && m.role !== "inbox");
  const current = state.view.kind === "mailbox" ? state.view.mailboxId : "";

  const open = (ev: MouseEvent, m: Mailbox) => {
    if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    void state.show({ kind: "mailbox", mailboxId: m.id });
    route.go(state.view);
  };

  const item = (m: Mailbox, hiddenList: boolean) => (
    <li
      key={m.id}
      class={`${m.id === current ? "current" : ""}${over === m.id ? " drop" : ""}`}
      onDragOver={(ev) => {
        if (!ev.dataTransfer?.types.includes(dragType) || m.id === current) return;
        ev.preventDefault();
        setOver(m.id);
      }}
      onDragLeave={() => setOver("")}
      onDrop={(ev) => {
        ev.preventDefault();
        setOver("");
        const threads = draggedThreads(ev);
        if (threads.length) void state.move(m.id, threads);
      }}
    >
      <a href={route.format({ kind: "mailbox", mailboxId: m.id })} onClick={(ev) => open(ev, m)} aria-current={m.id === current ? "page" : undefined} data-mailbox={m.id} data-role={m.role ?? ""}>
        <span class="name truncate" style={{ paddingInlineStart: `${depth(state, m) * 0.8}rem` }}>
          {m.name}
        </span>
        {m.unreadEmails > 0 && m.role !== "sent" && m.role !== "drafts" && m.role !== "trash" && (
          <span class="count">
            {m.unreadEmails}
            <span class="sr-only"> unread</span>
          </span>
        )}
      </a>
      {m.role !== "inbox" && (
        <button type="button" class="hide" title={hiddenList ? "Show this folder" : "Hide this folder"} aria-label={`${hiddenList ? "Show" : "Hide"} ${m.name}`} onClick={() => void state.setSubscribed(m.id, hiddenList)}>
          {hiddenList ? "Show" : "Hide"}
        </button>
      )}
    </li>
  );

  return (
    <nav class="folders" aria-label="Folders">
      <button type="button" class="write primary" onClick={() => state.compose("new")} title="Write a message (c)">
        Write
      </button>
      <ul>{shown.map((m) => item(m, false))}</ul>
      {hidden.length > 0 && (
        <>
          <button type="button" class="more" aria-expanded={more} onClick={() => setMore(!more)}>
            {more ? "Fewer folders" : `More folders (${hidden.length})`}
          </button>
          {more && <ul class="hidden-folders">{hidden.map((m) => item(m, true))}</ul>}
        </>
      )}
    </nav>
  );
}

function depth(state: MailState, m: Mailbox): number {
  let d = 0;
  for (let p = m.parentId; p && d < 10; p = state.mailboxes.get(p)?.parentId ?? null) d++;
  return d;
}
