import { useEffect, useRef } from "preact/hooks";
import type { MailState } from "../state";

const KEY = "mailroom.notifications";

// Desktop notifications are off until the person turns them on (and the
// browser asks for permission then, not on page load).
export function notificationsOn(): boolean {
  try {
    return "Notification" in window && Notification.permission === "granted" && localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
}

export async function setNotifications(on: boolean): Promise<boolean> {
  if (!("Notification" in window)) return false;
  if (on && Notification.permission !== "granted") {
    if ((await Notification.requestPermission()) !== "granted") return false;
  }
  try {
    localStorage.setItem(KEY, on ? "on" : "off");
  } catch {
    return false;
  }
  return on;
}

// useNotifications shows a notification when the Inbox's unread count
// grows while the page is hidden.
export function useNotifications(state: MailState, unread: number): void {
  const last = useRef(unread);
  useEffect(() => {
    const before = last.current;
    last.current = unread;
    if (unread <= before || !notificationsOn() || document.visibilityState === "visible") return;
    const n = unread - before;
    const note = new Notification(n === 1 ? "New mail" : `${n} new messages`, { body: `${unread} unread in your Inbox`, tag: "mailroom-new-mail" });
    note.onclick = () => {
      window.focus();
      const inbox = state.byRole("inbox");
      if (inbox) void state.show({ kind: "mailbox", mailboxId: inbox.id });
    };
  }, [unread, state]);
}
