// The app's addresses: every screen has its own URL, so back/forward,
// reload and bookmarks work.
//
//	/app/                               the Inbox
//	/app/mailbox/{id}                   a folder
//	/app/mailbox/{id}/thread/{threadId} a conversation in a folder
//	/app/search?q=…                     search results
//	/app/search/thread/{threadId}?q=…   a conversation from the results

import type { View } from "./state";

export interface Route {
  view: View | { kind: "inbox" };
  thread: string | null;
}

export function parse(loc: Location = window.location): Route {
  const parts = loc.pathname.replace(/^\/app\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const q = new URLSearchParams(loc.search).get("q") ?? "";
  if (parts[0] === "mailbox" && parts[1]) {
    return { view: { kind: "mailbox", mailboxId: parts[1] }, thread: parts[2] === "thread" ? (parts[3] ?? null) : null };
  }
  if (parts[0] === "search") {
    return { view: { kind: "search", query: q }, thread: parts[1] === "thread" ? (parts[2] ?? null) : null };
  }
  return { view: { kind: "inbox" }, thread: null };
}

export function format(view: View, thread: string | null = null): string {
  if (view.kind === "search") {
    const q = `?q=${encodeURIComponent(view.query)}`;
    return thread ? `/app/search/thread/${encodeURIComponent(thread)}${q}` : `/app/search${q}`;
  }
  const base = `/app/mailbox/${encodeURIComponent(view.mailboxId)}`;
  return thread ? `${base}/thread/${encodeURIComponent(thread)}` : base;
}

export function go(view: View, thread: string | null = null, replace = false): void {
  const url = format(view, thread);
  if (url === window.location.pathname + window.location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}
