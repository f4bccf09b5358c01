import { useEffect, useRef, useState } from "preact/hooks";

// MailFrame shows a message's body as the server renders it
// (/app/render/…: sanitised, styles scoped, remote content blocked until
// allowed) in a sandboxed frame that runs no script. The frame is sized
// to its content, so the conversation scrolls as one page instead of a
// frame with a scrollbar of its own. allow-same-origin lets this page
// measure it; with no allow-scripts, nothing in the frame can use that.
export function MailFrame({ accountId, emailId }: { accountId: string; emailId: string }) {
  const frame = useRef<HTMLIFrameElement>(null);
  const [remote, setRemote] = useState(false);
  const [blocked, setBlocked] = useState(0);
  const src = `/app/render/${encodeURIComponent(accountId)}/${encodeURIComponent(emailId)}${remote ? "?remote=1" : ""}`;

  useEffect(() => {
    const f = frame.current;
    if (!f) return;
    let ro: ResizeObserver | null = null;
    const fit = () => {
      const doc = f.contentDocument;
      if (!doc?.documentElement) return;
      // The body's own height: the document's is never less than the
      // frame's, so it could only grow.
      const body = doc.body;
      if (!body) return;
      const wide = body.scrollWidth > body.clientWidth ? 16 : 0; // room for a sideways scrollbar
      f.style.height = `${Math.ceil(body.getBoundingClientRect().height) + wide}px`;
    };
    const onLoad = () => {
      const doc = f.contentDocument;
      if (!doc) return;
      setBlocked(Number(doc.querySelector('meta[name="mailroom-remote-blocked"]')?.getAttribute("content") ?? 0) || 0);
      fit();
      ro?.disconnect();
      ro = new ResizeObserver(fit);
      ro.observe(doc.body ?? doc.documentElement);
      // Images arriving change the height after load.
      for (const img of Array.from(doc.images)) img.addEventListener("load", fit);
    };
    f.addEventListener("load", onLoad);
    return () => {
      f.removeEventListener("load", onLoad);
      ro?.disconnect();
    };
  }, [src]);

  return (
    <div class="body">
      {blocked > 0 && !remote && (
        <p class="remote">
          Remote content is hidden to protect your privacy ({blocked} {blocked === 1 ? "item" : "items"}).{" "}
          <button type="button" class="link" onClick={() => setRemote(true)}>
            Show remote content
          </button>
        </p>
      )}
      <iframe ref={frame} class="mailframe" title="Message" src={src} sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" />
    </div>
  );
}
