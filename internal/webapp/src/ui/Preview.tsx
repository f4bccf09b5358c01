import { useEffect, useRef } from "preact/hooks";
import type { BodyPart, Email } from "../model";
import type { MailState } from "../state";

// Preview shows an image or a PDF attachment over the page. The download
// is served with "Content-Security-Policy: sandbox", so a PDF (or anything
// claiming to be one) never runs as a page of this site.
export function Preview({ state, email, part, onClose }: { state: MailState; email: Email; part: BodyPart; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const url = `${state.jmap.downloadURL(state.accountId, part.blobId!, part.name || "attachment", part.type)}&disposition=inline`;
  const image = part.type.toLowerCase().startsWith("image/");
  return (
    <dialog ref={dialog} class="attview" aria-label={`Preview of ${part.name || "the attachment"}`} onClose={onClose} data-email={email.id}>
      <div class="previewbar">
        <span class="truncate">{part.name || "(unnamed)"}</span>
        <a href={state.jmap.downloadURL(state.accountId, part.blobId!, part.name || "attachment", part.type)} download={part.name || "attachment"}>
          Download
        </a>
        <button type="button" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </div>
      {image ? <img src={url} alt={part.name || "attachment"} /> : <iframe title={part.name || "PDF"} src={url} />}
    </dialog>
  );
}
