// Keyboard shortcuts, Gmail's where Gmail has one (the help overlay,
// ui/Help.tsx, lists them). They act only when no text field has the
// focus, and never with Ctrl, Alt or Meta held (those are the browser's).

import * as route from "./route";
import type { MailState } from "./state";

export interface KeyHooks {
  help: () => void;
  search: () => void;
  closeOverlays: () => void;
}

export interface Shortcut {
  keys: string;
  what: string;
}

export const shortcuts: Shortcut[] = [
  { keys: "j / k", what: "Next / previous conversation" },
  { keys: "o or Enter", what: "Open the conversation" },
  { keys: "u", what: "Back to the list" },
  { keys: "x", what: "Select the conversation" },
  { keys: "s", what: "Star (flag) or unstar" },
  { keys: "e or y", what: "Archive" },
  { keys: "#", what: "Delete (move to Trash)" },
  { keys: "!", what: "Report as junk" },
  { keys: "Shift+I / Shift+U", what: "Mark read / unread" },
  { keys: "*  a / *  n", what: "Select all / none" },
  { keys: "g then i", what: "Go to the Inbox" },
  { keys: "g then s", what: "Go to starred conversations" },
  { keys: "g then t", what: "Go to Sent" },
  { keys: "g then d", what: "Go to Drafts" },
  { keys: "c", what: "Write a message" },
  { keys: "r / a / f", what: "Reply / reply to all / forward" },
  { keys: "/", what: "Search" },
  { keys: "z", what: "Undo the last action" },
  { keys: "?", what: "Show this help" },
  { keys: "Esc", what: "Close the help or a menu" },
];

function typing(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT";
}

export function installKeys(state: MailState, hooks: KeyHooks): () => void {
  let prefix = "";
  let prefixTimer = 0;

  const open = (i: number) => {
    const e = state.rowEmail(i);
    if (!e) return;
    void state.openConversation(e.threadId);
    route.go(state.view, e.threadId);
  };
  const goView = (role: string | null, query?: string) => {
    if (query !== undefined) {
      void state.show({ kind: "search", query });
      route.go(state.view);
      return;
    }
    const m = role ? state.byRole(role) : undefined;
    if (!m) return;
    void state.show({ kind: "mailbox", mailboxId: m.id });
    route.go(state.view);
  };

  // r, a and f answer the newest message of the open conversation.
  const replyTo = (mode: "reply" | "replyAll" | "forward") => {
    if (!state.openThread) return;
    const msgs = state.conversation(state.openThread, true).sort((x, y) => x.receivedAt.localeCompare(y.receivedAt));
    const last = msgs[msgs.length - 1];
    if (last) state.compose(mode, last.id);
  };

  const onKey = (ev: KeyboardEvent) => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.defaultPrevented) return;
    if (ev.key === "Escape") {
      hooks.closeOverlays();
      if (typing(ev.target)) (ev.target as HTMLElement).blur();
      return;
    }
    if (typing(ev.target)) return;
    const k = ev.key;
    // Enter on a link or a button is that element's.
    if (k === "Enter" && ev.target instanceof HTMLElement && ev.target.closest("a, button, summary, [role=menuitem]")) return;
    if (prefix) {
      const p = prefix;
      prefix = "";
      clearTimeout(prefixTimer);
      if (p === "g") {
        const to: Record<string, () => void> = {
          i: () => goView("inbox"),
          s: () => goView(null, "is:flagged"),
          t: () => goView("sent"),
          d: () => goView("drafts"),
        };
        to[k]?.();
      } else if (p === "*") {
        if (k === "a") state.selectPage(true);
        if (k === "n") state.selectPage(false);
      }
      ev.preventDefault();
      return;
    }
    if (state.composing) return;
    const reading = state.openThread !== null;
    const act: Record<string, () => void> = {
      j: () => {
        state.focus = Math.min(state.focus + 1, Math.max(0, state.rows.length - 1));
        if (state.focus >= state.rows.length - 5) void state.loadMore();
        if (reading) open(state.focus);
        else state.notify();
      },
      k: () => {
        state.focus = Math.max(0, state.focus - 1);
        if (reading) open(state.focus);
        else state.notify();
      },
      o: () => open(state.focus),
      Enter: () => {
        if (!reading) open(state.focus);
      },
      u: () => {
        state.closeConversation();
        route.go(state.view);
      },
      x: () => {
        const e = state.rowEmail(state.focus);
        if (e) state.toggle(e.threadId);
      },
      s: () => {
        const targets = state.targets();
        const all = targets.flatMap((t) => state.conversation(t));
        void state.setKeyword("$flagged", !all.some((e) => e.keywords.$flagged));
      },
      e: () => void state.archive(),
      y: () => void state.archive(),
      "#": () => void state.remove(),
      "!": () => void state.markJunk(true),
      I: () => void state.setKeyword("$seen", true),
      U: () => void state.setKeyword("$seen", false),
      c: () => state.compose("new"),
      r: () => replyTo("reply"),
      a: () => replyTo("replyAll"),
      f: () => replyTo("forward"),
      "/": () => hooks.search(),
      "?": () => hooks.help(),
      z: () => {
        const t = state.toasts.find((t) => t.undo);
        if (t?.undo) {
          t.undo();
          state.dismiss(t.id);
        }
      },
      g: () => {
        prefix = "g";
        prefixTimer = window.setTimeout(() => {
          prefix = "";
        }, 1500);
      },
      "*": () => {
        prefix = "*";
        prefixTimer = window.setTimeout(() => {
          prefix = "";
        }, 1500);
      },
    };
    const f = act[k];
    if (f) {
      ev.preventDefault();
      f();
    }
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
