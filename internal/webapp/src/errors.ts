// Errors as the webmail says them: what failed, and why in words a
// person can act on.

import { MethodError } from "./jmap";

export function message(e: unknown, what: string): string {
  if (e instanceof MethodError) return `${what}: ${describe(e.type)}`;
  if (e instanceof TypeError) return `${what}: the server could not be reached. Check your connection.`;
  if (e instanceof Error && e.message) return `${what}: ${e.message}`;
  return `${what}.`;
}

function describe(type: string): string {
  switch (type) {
    case "forbidden":
      return "you are not allowed to do that here.";
    case "overQuota":
      return "the mailbox is full.";
    case "notFound":
      return "it is gone (changed in another window?).";
    case "stateMismatch":
      return "it changed meanwhile; try again.";
    default:
      return `the server refused (${type}).`;
  }
}
