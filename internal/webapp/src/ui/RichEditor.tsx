import type { RefObject } from "preact";
import { useEffect } from "preact/hooks";

interface Props {
  editorRef: RefObject<HTMLDivElement | null>;
  initial: string;
  onChange: () => void;
  onPlain: () => void;
}

// exec runs an editing command on the selection. execCommand is what every
// browser's editable regions implement (bold, lists, links, quotes) and
// keeps undo (Ctrl+Z) working, which a hand-made editor would lose.
function exec(cmd: string, value?: string): void {
  document.execCommand(cmd, false, value);
}

// RichEditor is the rich-text body: bold, italic, lists, links and
// quotes. The message is sent as HTML (cleaned to what these buttons
// make) with a plain-text alternative.
export function RichEditor({ editorRef, initial, onChange, onPlain }: Props) {
  // The initial markup is set once: after that the editor owns its DOM.
  // It is the cleaned subset compose.ts makes (cleanHTML, textToHTML).
  useEffect(() => {
    if (editorRef.current) editorRef.current.innerHTML = initial;
  }, []);
  const button = (label: string, title: string, run: () => void) => (
    <button
      type="button"
      title={title}
      // A one-letter label is named by its title; a longer one by itself
      // (a name must contain the text people see: WCAG 2.5.3).
      aria-label={label.length === 1 ? title : undefined}
      onMouseDown={(ev) => {
        // Keep the selection in the editor.
        ev.preventDefault();
        run();
        onChange();
      }}
    >
      {label}
    </button>
  );
  return (
    <div class="field body">
      <div class="formatbar" role="toolbar" aria-label="Formatting">
        <span id="compose-body-label" class="label">
          Message
        </span>
        {button("B", "Bold", () => exec("bold"))}
        {button("I", "Italic", () => exec("italic"))}
        {button("• List", "Bulleted list", () => exec("insertUnorderedList"))}
        {button("1. List", "Numbered list", () => exec("insertOrderedList"))}
        {button("Link", "Link", () => {
          const url = window.prompt("Link to (https://…)", "https://");
          if (url && /^(https?:|mailto:)/i.test(url)) exec("createLink", url);
        })}
        {button("❝ Quote", "Quote", () => exec("formatBlock", "blockquote"))}
        <button type="button" class="link" onClick={onPlain}>
          Plain text
        </button>
      </div>
      {/* biome-ignore lint/a11y/useSemanticElements: rich text needs a contenteditable element; a textarea holds no markup */}
      <div
        ref={editorRef}
        class="editor"
        contentEditable
        role="textbox"
        tabIndex={0}
        aria-multiline="true"
        aria-labelledby="compose-body-label"
        onInput={onChange}
      />
    </div>
  );
}
