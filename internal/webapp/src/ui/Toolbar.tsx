import { useState } from "preact/hooks";
import type { MailState } from "../state";

// Toolbar acts on the selected conversations (or the open one): archive,
// delete, junk, read/unread, star, move. "Select all" takes the page; a
// banner then offers every conversation of the view, on every page, so
// that "mark all read" on 3,000 messages is two clicks.
export function Toolbar({ state }: { state: MailState }) {
  const [moving, setMoving] = useState(false);
  const n = state.selected.size;
  const pageCount = state.rows.length;
  const some = n > 0 || state.openThread !== null;
  const here = state.view.kind === "mailbox" ? state.mailboxes.get(state.view.mailboxId) : undefined;
  const role = here?.role ?? "";
  const targetConv = state.targets().flatMap((t) => state.conversation(t));
  const anyUnread = targetConv.some((e) => !e.keywords.$seen);

  return (
    <div class="toolbar" role="toolbar" aria-label="Actions">
      <input
        type="checkbox"
        class="pick-all"
        aria-label="Select all conversations on this page"
        checked={n > 0 && n >= pageCount}
        ref={(el) => {
          if (el) el.indeterminate = n > 0 && n < pageCount;
        }}
        onClick={(ev) => {
          ev.preventDefault();
          state.selectPage(n === 0);
        }}
      />
      {some ? (
        <>
          {role !== "archive" && (
            <button type="button" onClick={() => void state.archive()} title="Archive (e)">
              Archive
            </button>
          )}
          <button type="button" onClick={() => void state.remove()} title="Delete (#)">
            {role === "trash" || role === "junk" ? "Delete for good" : "Delete"}
          </button>
          {role === "trash" && (
            <button type="button" onClick={() => void state.restoreFromTrash()}>
              Restore
            </button>
          )}
          {role === "junk" ? (
            <button type="button" onClick={() => void state.markJunk(false)}>
              Not junk
            </button>
          ) : (
            <button type="button" onClick={() => void state.markJunk(true)} title="Report junk (!)">
              Junk
            </button>
          )}
          {anyUnread ? (
            <button type="button" onClick={() => void state.setKeyword("$seen", true)} title="Mark read (Shift+I)">
              Mark read
            </button>
          ) : (
            <button type="button" onClick={() => void state.setKeyword("$seen", false)} title="Mark unread (Shift+U)">
              Mark unread
            </button>
          )}
          {targetConv.some((e) => e.keywords.$flagged) ? (
            <button type="button" onClick={() => void state.setKeyword("$flagged", false)} title="Unstar (s)">
              Unstar
            </button>
          ) : (
            <button type="button" onClick={() => void state.setKeyword("$flagged", true)} title="Star (s)">
              Star
            </button>
          )}
          <span class="movewrap">
            <button type="button" aria-haspopup="true" aria-expanded={moving} onClick={() => setMoving(!moving)}>
              Move to…
            </button>
            {moving && (
              <div class="menu" role="menu">
                {state
                  .sortedMailboxes()
                  .filter((m) => m.id !== here?.id && m.myRights.mayAddItems !== false)
                  .map((m) => (
                    <button
                        key={m.id}
                        type="button"
                        role="menuitem"
                        onClick={() => {
                          setMoving(false);
                          void state.move(m.id);
                        }}
                      >
                        {m.name}
                      </button>
                  ))}
              </div>
            )}
          </span>
        </>
      ) : (
        <button type="button" onClick={() => void state.reloadList()} title="Refresh">
          Refresh
        </button>
      )}
      <span class="range" aria-live="polite">
        {state.view.kind === "search" && state.searchTotal !== null
          ? `${state.searchTotal.toLocaleString()} ${state.searchTotal === 1 ? "conversation" : "conversations"} found`
          : state.total > 0
            ? `${pageCount.toLocaleString()} of ${state.total.toLocaleString()}`
            : ""}
      </span>
      {n > 0 && n >= pageCount && state.total > pageCount && (
        <p class="selectall">
          {state.allSelected ? (
            <>
              All {state.total.toLocaleString()} conversations are selected.{" "}
              <button type="button" class="link" onClick={() => state.selectPage(false)}>
                Clear the selection
              </button>
            </>
          ) : (
            <>
              The {n} conversations on this page are selected.{" "}
              <button type="button" class="link" onClick={() => state.selectAllPages()}>
                Select all {state.total.toLocaleString()} conversations
              </button>
            </>
          )}
        </p>
      )}
    </div>
  );
}
