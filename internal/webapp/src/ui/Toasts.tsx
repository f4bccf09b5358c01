import type { MailState } from "../state";

// Toasts says what an action did, with "Undo" for a few seconds.
export function Toasts({ state }: { state: MailState }) {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {state.toasts.map((t) => (
        <div key={t.id} class={`toast${t.error ? " error" : ""}`}>
          <span>{t.text}</span>
          {t.undo && (
            <button
              type="button"
              class="link"
              onClick={() => {
                t.undo?.();
                state.dismiss(t.id);
              }}
            >
              Undo
            </button>
          )}
          <button type="button" class="close" aria-label="Dismiss" onClick={() => state.dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
