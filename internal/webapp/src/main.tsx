// The webmail's entry point. The server's shell page (internal/web,
// app.go) carries the CSRF token and a plain-HTML fallback; once this
// script runs, the app replaces the fallback.

import { render } from "preact";
import { App } from "./ui/App";
import { Client } from "./jmap";
import * as route from "./route";
import { MailState } from "./state";

async function boot(): Promise<void> {
  const root = document.getElementById("app")!;
  const csrf = document.querySelector<HTMLMetaElement>('meta[name="mailroom-csrf"]')?.content ?? "";
  const user = document.querySelector<HTMLMetaElement>('meta[name="mailroom-user"]')?.content ?? "";
  const admin = document.querySelector<HTMLMetaElement>('meta[name="mailroom-admin"]')?.content === "true";
  const inbox = document.querySelector<HTMLMetaElement>('meta[name="mailroom-inbox"]')?.content ?? "";
  const carried = document.querySelector<HTMLMetaElement>('meta[name="mailroom-session"]')?.content ?? "";
  const client = new Client(csrf);
  try {
    if (carried) client.useSession(JSON.parse(carried));
    else await client.loadSession();
  } catch {
    root.querySelector(".boot-status")?.replaceChildren("Could not reach your mail. Try again shortly, or use the basic HTML version.");
    return;
  }
  const state = new MailState(client);
  // The Inbox's first request leaves before anything is rendered: the
  // folders and its first page together, when the page named the Inbox.
  const booting = inbox && route.parse().view.kind === "inbox" ? state.boot({ kind: "mailbox", mailboxId: inbox }) : null;
  // Its failure is the App's to show, when it awaits it.
  booting?.catch(() => undefined);
  root.replaceChildren();
  render(<App state={state} user={user} admin={admin} csrf={csrf} booting={booting} />, root);
}

void boot();
