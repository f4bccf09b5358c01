import { useEffect, useRef, useState } from "preact/hooks";
import type { Identity } from "../compose";
import { message } from "../errors";
import type { MailState } from "../state";

// Identities edits the names and signatures of the addresses the user
// sends as (JMAP Identity/set): the display name people see, and the
// signature added to new messages.
export function Identities({ state, onClose }: { state: MailState; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [list, setList] = useState<Identity[]>(state.identities);
  const [status, setStatus] = useState("");
  useEffect(() => {
    dialog.current?.showModal();
    state.loadIdentities().then(
      () => setList(state.identities),
      (e) => setStatus(message(e, "Could not read your identities")),
    );
  }, [state]);

  const save = async (ev: Event) => {
    ev.preventDefault();
    const update = Object.fromEntries(list.map((i) => [i.id, { name: i.name, textSignature: i.textSignature }]));
    try {
      const r = await state.jmap.call<{ notUpdated?: Record<string, { type: string; description?: string }> }>("Identity/set", { accountId: state.accountId, update });
      const bad = Object.values(r.notUpdated ?? {});
      if (bad.length) throw new Error(bad[0].description || bad[0].type);
      await state.loadIdentities();
      setStatus("Saved.");
    } catch (e) {
      setStatus(message(e, "Not saved"));
    }
  };

  const edit = (id: string, patch: Partial<Identity>) => setList(list.map((i) => (i.id === id ? { ...i, ...patch } : i)));
  return (
    <dialog ref={dialog} class="identities" aria-labelledby="identities-title" onClose={onClose}>
      <h2 id="identities-title">Names and signatures</h2>
      <form onSubmit={save}>
        {list.map((i) => (
          <fieldset key={i.id}>
            <legend>{i.email}</legend>
            <div class="field">
              <label for={`name-${i.id}`}>Name</label>
              <input id={`name-${i.id}`} type="text" value={i.name} onInput={(ev) => edit(i.id, { name: (ev.target as HTMLInputElement).value })} />
            </div>
            <div class="field body">
              <label for={`sig-${i.id}`}>Signature</label>
              <textarea id={`sig-${i.id}`} rows={3} value={i.textSignature} onInput={(ev) => edit(i.id, { textSignature: (ev.target as HTMLTextAreaElement).value })} />
            </div>
          </fieldset>
        ))}
        <p role="status">{status}</p>
        <div class="actions">
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </div>
      </form>
    </dialog>
  );
}
