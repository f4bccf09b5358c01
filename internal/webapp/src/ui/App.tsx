import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import { installKeys } from "../keys";
import * as route from "../route";
import { message } from "../errors";
import type { MailState, View } from "../state";
import { Compose } from "./Compose";
import { Help } from "./Help";
import { MessageList } from "./MessageList";
import { Reader } from "./Reader";
import { SearchBox } from "./SearchBox";
import { Sidebar } from "./Sidebar";
import { Toasts } from "./Toasts";
import { updateBadge } from "./badge";
import { Identities } from "./Identities";
import { notificationsOn, setNotifications, useNotifications } from "./notify";

interface Props {
  state: MailState;
  user: string;
  admin: boolean;
  csrf: string;
  // booting is the first request, when main.tsx could send it at once.
  booting: Promise<void> | null;
}

// useMail re-renders the component on every change of the state.
export function useMail(state: MailState): void {
  const [, tick] = useReducer((n: number) => n + 1, 0);
  useEffect(() => state.subscribe(() => tick(0)), [state]);
}

export function App({ state, user, admin, csrf, booting }: Props) {
  useMail(state);
  const [bootError, setBootError] = useState("");
  const [help, setHelp] = useState(false);
  const [menu, setMenu] = useState(false);
  const [identities, setIdentities] = useState(false);
  const [notify, setNotify] = useState(notificationsOn());
  const searchRef = useRef<HTMLInputElement>(null);

  // Boot: the folders, then the screen the address names; then push.
  useEffect(() => {
    let stopPush = () => {};
    const follow = async (replace: boolean) => {
      const r = route.parse();
      let view: View;
      if (r.view.kind === "inbox") {
        const inbox = state.byRole("inbox") ?? state.sortedMailboxes()[0];
        view = { kind: "mailbox", mailboxId: inbox?.id ?? "" };
        route.go(view, null, true);
      } else {
        view = r.view;
      }
      const same = JSON.stringify(view) === JSON.stringify(state.view) && state.rows.length > 0;
      if (!same) await state.show(view);
      if (r.thread) await state.openConversation(r.thread);
      else state.closeConversation();
      if (replace) route.go(state.view, state.openThread, true);
    };
    (async () => {
      try {
        if (booting) await booting;
        else await state.loadMailboxes();
        await follow(true);
        // The list is in the DOM after the next render: measured for
        // docs/benchmarks.md (TestAppPerformance).
        requestAnimationFrame(() => performance.mark("mailroom-list-shown"));
      } catch (e) {
        setBootError(message(e, "Could not load your mail"));
        return;
      }
      stopPush = state.jmap.push(
        (changed) => {
          const mine = changed[state.accountId];
          if (mine) void state.changed(mine).catch(() => undefined);
        },
        // On every connection, the first included, catch up on what
        // changed since the app read it: mail that came while the push
        // was connecting would otherwise wait for the next change.
        () => void state.changed({ Mailbox: "?", Email: "?" }).catch(() => undefined),
      );
    })();
    const onPop = () => void follow(false);
    window.addEventListener("popstate", onPop);
    return () => {
      window.removeEventListener("popstate", onPop);
      stopPush();
    };
  }, [state, booting]);

  useEffect(
    () =>
      installKeys(state, {
        help: () => setHelp((h) => !h),
        search: () => searchRef.current?.focus(),
        closeOverlays: () => {
          setHelp(false);
          setMenu(false);
        },
      }),
    [state],
  );

  const unread = state.totalUnread();
  useNotifications(state, unread);
  const here = state.view.kind === "mailbox" ? (state.mailboxes.get(state.view.mailboxId)?.name ?? "Mail") : `Search: ${state.view.query}`;
  useEffect(() => {
    document.title = `${unread ? `(${unread}) ` : ""}${here} · Mailroom`;
    updateBadge(unread);
  }, [unread, here]);

  if (bootError) {
    return (
      <main class="boot">
        <p role="alert">{bootError}</p>
        <p>
          <a href="/mail/INBOX">Use the basic HTML version</a>
        </p>
      </main>
    );
  }

  const reading = state.openThread !== null || state.composing !== null;
  return (
    <div class={`shell${reading ? " reading" : ""}`}>
      <button
        type="button"
        class="skip"
        onClick={() => {
          // Focus the focused conversation (or the list) itself.
          const target = document.querySelector<HTMLElement>(".rows li.focus a.open") ?? document.getElementById("list");
          target?.focus();
        }}
      >
        Skip to messages
      </button>
      <header class="bar">
        <a class="brand" href="/app/" aria-label="Mailroom: Inbox">
          Mailroom
        </a>
        <SearchBox state={state} inputRef={searchRef} />
        <div class="account">
          <button type="button" class="icon" aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)" onClick={() => setHelp(true)}>
            ?
          </button>
          <button type="button" class="who" aria-haspopup="true" aria-expanded={menu} onClick={() => setMenu(!menu)}>
            <span class="truncate">{user}</span>
          </button>
          {menu && (
            <div class="menu" role="menu">
              <a role="menuitem" href="/settings">
                Settings
              </a>
              {admin && (
                <a role="menuitem" href="/admin">
                  Admin
                </a>
              )}
              <button
                type="button"
                role="menuitem"
                onClick={() => {
                  setMenu(false);
                  setIdentities(true);
                }}
              >
                Names and signatures
              </button>
              {"Notification" in window && (
                <button
                  type="button"
                  role="menuitemcheckbox"
                  aria-checked={notify}
                  onClick={() => void setNotifications(!notify).then(setNotify)}
                >
                  {notify ? "✓ " : ""}Desktop notifications
                </button>
              )}
              <a role="menuitem" href="/mail/INBOX">
                Basic HTML version
              </a>
              <form method="post" action="/logout">
                <input type="hidden" name="csrf" value={csrf} />
                <button type="submit" role="menuitem">
                  Log out
                </button>
              </form>
            </div>
          )}
        </div>
      </header>
      <Sidebar state={state} />
      <MessageList state={state} />
      {state.composing ? <Compose key={state.composing.key} state={state} /> : state.openThread !== null && <Reader state={state} />}
      {help && <Help onClose={() => setHelp(false)} />}
      {identities && <Identities state={state} onClose={() => setIdentities(false)} />}
      <Toasts state={state} />
    </div>
  );
}
