// A small JMAP client (RFC 8620) for the webmail: the session, batched
// method calls with result references, uploads with progress and push
// over EventSource. It speaks to this server only, with the webmail's
// session cookie; every request that changes something carries the
// page's CSRF token, as the server requires of cookie-authenticated
// JMAP.

export const CORE = "urn:ietf:params:jmap:core";
export const MAIL = "urn:ietf:params:jmap:mail";
export const SUBMISSION = "urn:ietf:params:jmap:submission";
export const SEARCH = "urn:mailroom:params:jmap:search";
export const SUGGEST = "urn:mailroom:params:jmap:suggest";

export interface Session {
  apiUrl: string;
  downloadUrl: string;
  uploadUrl: string;
  eventSourceUrl: string;
  state: string;
  username: string;
  capabilities: Record<string, unknown>;
  accounts: Record<string, { name: string; isPersonal: boolean; isReadOnly: boolean; accountCapabilities: Record<string, unknown> }>;
  primaryAccounts: Record<string, string>;
}

export type Invocation = [string, Record<string, unknown>, string];

// MethodError is a JMAP method-level error ("error" response).
export class MethodError extends Error {
  constructor(
    readonly type: string,
    readonly method: string,
    description?: string,
  ) {
    super(description ? `${method}: ${type}: ${description}` : `${method}: ${type}`);
  }
}

// ProblemError is a request-level failure (HTTP status, RFC 7807 problem).
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    detail: string,
  ) {
    super(detail || `the server answered ${status}`);
  }
}

// Ref is a result reference to an earlier call of the same batch.
export interface Ref {
  resultOf: string;
  name: string;
  path: string;
}

// Batch collects method calls for one request; add returns the call id
// to refer to its result, and ref builds a back-reference.
export class Batch {
  readonly calls: Invocation[] = [];
  add(name: string, args: Record<string, unknown>): string {
    const id = `c${this.calls.length}`;
    this.calls.push([name, args, id]);
    return id;
  }
  ref(callId: string, path: string): Ref {
    const call = this.calls.find((c) => c[2] === callId);
    if (!call) throw new Error(`no call ${callId} in this batch`);
    return { resultOf: callId, name: call[0], path };
  }
}

// Results are a request's responses by call id.
export class Results {
  constructor(private readonly byId: Map<string, [string, Record<string, unknown>]>) {}
  // get returns the response of a call, throwing its method error.
  get<T>(callId: string): T {
    const r = this.byId.get(callId);
    if (!r) throw new Error(`no response for ${callId}`);
    if (r[0] === "error") {
      const e = r[1] as { type: string; description?: string };
      throw new MethodError(e.type, callId, e.description);
    }
    return r[1] as T;
  }
}

export class Client {
  private session_: Session | null = null;
  // Requests in flight, and those waiting for one to end: the server
  // answers more than maxConcurrentRequests at once with an error.
  private inFlight = 0;
  private waiting: (() => void)[] = [];

  constructor(readonly csrfToken: string) {}

  get session(): Session {
    if (!this.session_) throw new Error("JMAP session not loaded");
    return this.session_;
  }

  // useSession takes a session the page carried (the shell's), instead of
  // asking for it.
  useSession(s: Session): void {
    this.session_ = s;
  }

  async loadSession(): Promise<Session> {
    const resp = await fetch("/jmap/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!resp.ok) throw await problem(resp);
    this.session_ = (await resp.json()) as Session;
    return this.session_;
  }

  // primaryAccount is the user's own mail account.
  get primaryAccount(): string {
    return this.session.primaryAccounts[MAIL];
  }

  // request sends a batch. It names every capability the app uses that
  // the server has: Mailroom's search language (mailroomQuery) and address
  // suggestions are extensions a request must name to use.
  async request(batch: Batch, using: string[] = [CORE, MAIL, SUBMISSION, SEARCH, SUGGEST]): Promise<Results> {
    const core = this.session.capabilities[CORE] as { maxConcurrentRequests?: number } | undefined;
    const limit = Math.max(1, core?.maxConcurrentRequests ?? 4);
    while (this.inFlight >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    let body: { methodResponses: Invocation[]; sessionState: string };
    try {
      const resp = await fetch(this.session.apiUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": this.csrfToken },
        body: JSON.stringify({ using: using.filter((u) => u in this.session.capabilities), methodCalls: batch.calls }),
      });
      if (!resp.ok) throw await problem(resp);
      body = (await resp.json()) as { methodResponses: Invocation[]; sessionState: string };
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
    const byId = new Map<string, [string, Record<string, unknown>]>();
    for (const [name, args, id] of body.methodResponses) {
      // An implicit call (onSuccessUpdateEmail) shares its parent's id;
      // the explicit one comes first and is the one kept.
      if (!byId.has(id) || name === "error") byId.set(id, [name, args]);
    }
    if (body.sessionState !== this.session.state) {
      // Accounts came or went (a folder shared): read the session again.
      void this.loadSession().catch(() => undefined);
    }
    return new Results(byId);
  }

  // call makes one method call in a request of its own.
  async call<T>(name: string, args: Record<string, unknown>): Promise<T> {
    const b = new Batch();
    const id = b.add(name, args);
    return (await this.request(b)).get<T>(id);
  }

  downloadURL(accountId: string, blobId: string, name: string, type = "application/octet-stream"): string {
    return this.session.downloadUrl
      .replace("{accountId}", encodeURIComponent(accountId))
      .replace("{blobId}", encodeURIComponent(blobId))
      .replace("{name}", encodeURIComponent(name))
      .replace("{type}", encodeURIComponent(type));
  }

  // upload sends a file to the upload endpoint, reporting progress
  // (0..1); XMLHttpRequest because fetch cannot report upload progress.
  upload(accountId: string, file: Blob, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<{ blobId: string; type: string; size: number }> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", this.session.uploadUrl.replace("{accountId}", encodeURIComponent(accountId)));
      xhr.setRequestHeader("X-CSRF-Token", this.csrfToken);
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(JSON.parse(xhr.responseText));
        } else {
          reject(new ProblemError(xhr.status, "upload", problemDetail(xhr.responseText) || `the upload failed (${xhr.status})`));
        }
      };
      xhr.onerror = () => reject(new ProblemError(0, "network", "the upload could not reach the server"));
      xhr.onabort = () => reject(new DOMException("aborted", "AbortError"));
      signal?.addEventListener("abort", () => xhr.abort());
      xhr.send(file);
    });
  }

  // push opens the EventSource and calls onChange with each StateChange's
  // changed map (account id → type → state). The browser reconnects by
  // itself; onOpen runs on every (re)connection, when the caller should
  // catch up on what it may have missed.
  push(onChange: (changed: Record<string, Record<string, string>>) => void, onOpen: () => void): () => void {
    const url = this.session.eventSourceUrl.replace("{types}", "*").replace("{closeafter}", "no").replace("{ping}", "60");
    const es = new EventSource(url, { withCredentials: true });
    es.addEventListener("state", (e) => {
      try {
        const data = JSON.parse((e as MessageEvent).data) as { changed: Record<string, Record<string, string>> };
        onChange(data.changed ?? {});
      } catch {
        // A malformed event is dropped; the next one carries the states.
      }
    });
    es.addEventListener("open", onOpen);
    return () => es.close();
  }
}

async function problem(resp: Response): Promise<ProblemError> {
  const text = await resp.text().catch(() => "");
  let type = "";
  try {
    type = (JSON.parse(text) as { type?: string }).type ?? "";
  } catch {
    // not a problem document
  }
  return new ProblemError(resp.status, type, problemDetail(text) || `the server answered ${resp.status}`);
}

function problemDetail(text: string): string {
  try {
    const p = JSON.parse(text) as { detail?: string; title?: string };
    return p.detail ?? p.title ?? "";
  } catch {
    return "";
  }
}
