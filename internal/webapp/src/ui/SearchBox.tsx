import type { Ref } from "preact";
import { useState } from "preact/hooks";
import * as route from "../route";
import type { MailState } from "../state";

const RECENT_KEY = "mailroom.recentSearches";
const operators = ["from:", "to:", "subject:", "has:attachment", "is:unread", "is:flagged", "after:", "before:", "in:anywhere"];

function recent(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string").slice(0, 8) : [];
  } catch {
    return [];
  }
}

function remember(q: string): void {
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify([q, ...recent().filter((r) => r !== q)].slice(0, 8)));
  } catch {
    // Private browsing: no memory of searches, which is fine.
  }
}

// SearchBox searches every folder but Junk and Trash, with the search
// language of the old search box (from:, subject:, has:attachment, in:…);
// suggestions are the recent searches, folders for in:, and the operators.
export function SearchBox({ state, inputRef }: { state: MailState; inputRef: Ref<HTMLInputElement> }) {
  const [text, setText] = useState(state.view.kind === "search" ? state.view.query : "");
  const last = text.split(/\s+/).pop() ?? "";
  const folders = state.sortedMailboxes().map((m) => `in:${/\s/.test(m.name) ? `"${m.name}"` : m.name}`);
  const head = text.slice(0, text.length - last.length);
  const suggestions = last ? [...operators, ...folders].filter((o) => o.toLowerCase().startsWith(last.toLowerCase()) && o !== last).map((o) => head + o) : recent();

  const submit = (ev: Event) => {
    ev.preventDefault();
    const q = text.trim();
    if (!q) return;
    remember(q);
    void state.show({ kind: "search", query: q });
    route.go(state.view);
    (ev.target as HTMLFormElement).querySelector("input")?.blur();
  };

  return (
    <search class="search">
      <form onSubmit={submit}>
      <input
        ref={inputRef}
        type="search"
        name="q"
        value={text}
        list="search-suggestions"
        placeholder="Search mail (from:ann has:attachment …)"
        aria-label="Search mail"
        autocomplete="off"
        onInput={(ev) => setText((ev.target as HTMLInputElement).value)}
      />
      <datalist id="search-suggestions">
        {suggestions.slice(0, 10).map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <button type="submit">Search</button>
      </form>
    </search>
  );
}
