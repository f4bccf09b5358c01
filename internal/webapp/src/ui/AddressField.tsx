import { useEffect, useRef, useState } from "preact/hooks";
import { type EmailAddress, formatAddress } from "../model";

interface Props {
  id: string;
  label: string;
  value: string;
  error: string;
  onChange: (v: string) => void;
  suggest: (text: string) => Promise<EmailAddress[]>;
}

// AddressField is an address field with suggestions from the people the
// user writes to and hears from: the word being typed (after the last
// comma) is looked up; arrows choose, Enter or Tab takes one.
export function AddressField({ id, label, value, error, onChange, suggest }: Props) {
  const [list, setList] = useState<EmailAddress[]>([]);
  const [active, setActive] = useState(0);
  const seq = useRef(0);
  const word = value.split(/[,;]/).pop()?.trim() ?? "";

  useEffect(() => {
    const n = ++seq.current;
    if (word.length < 1 || word.includes("<")) {
      setList([]);
      return;
    }
    const t = setTimeout(() => {
      suggest(word).then(
        (l) => {
          if (n === seq.current) {
            setList(l);
            setActive(0);
          }
        },
        () => undefined,
      );
    }, 120);
    return () => clearTimeout(t);
  }, [word, suggest]);

  const take = (a: EmailAddress) => {
    const cut = Math.max(value.lastIndexOf(","), value.lastIndexOf(";"));
    const head = cut >= 0 ? `${value.slice(0, cut + 1)} ` : "";
    onChange(`${head}${formatAddress(a)}, `);
    setList([]);
  };

  const onKey = (ev: KeyboardEvent) => {
    if (!list.length) return;
    if (ev.key === "ArrowDown") {
      ev.preventDefault();
      setActive((active + 1) % list.length);
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      setActive((active - 1 + list.length) % list.length);
    } else if (ev.key === "Enter" || ev.key === "Tab") {
      ev.preventDefault();
      take(list[active]);
    } else if (ev.key === "Escape") {
      setList([]);
    }
  };

  const listId = `${id}-suggestions`;
  return (
    <div class="field address">
      <label for={id}>{label}</label>
      <div class="combo">
        <input
          id={id}
          type="text"
          autocomplete="off"
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={list.length > 0}
          aria-controls={listId}
          aria-activedescendant={list.length ? `${listId}-${active}` : undefined}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : undefined}
          value={value}
          onInput={(ev) => onChange((ev.target as HTMLInputElement).value)}
          onKeyDown={onKey}
          onBlur={() => setTimeout(() => setList([]), 150)}
        />
        {list.length > 0 && (
          <div class="suggestions" role="listbox" id={listId}>
            {list.map((a, i) => (
              <div
                key={a.email}
                tabIndex={-1}
                id={`${listId}-${i}`}
                role="option"
                aria-selected={i === active}
                class={i === active ? "active" : ""}
                onMouseDown={(ev) => {
                  ev.preventDefault();
                  take(a);
                }}
              >
                {a.name ? (
                  <>
                    <strong>{a.name}</strong> <span class="addr">{a.email}</span>
                  </>
                ) : (
                  a.email
                )}
              </div>
            ))}
          </div>
        )}
      </div>
      {error && (
        <p class="fielderror" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
