import type { Email } from "../model";
import type { MailState } from "../state";

// Snippet shows a search result's preview with the matches highlighted.
// SearchSnippet's preview is HTML-escaped text with <mark> elements; it is
// parsed here into text and <mark> nodes only, never given to innerHTML.
export function Snippet({ state, email }: { state: MailState; email: Email }) {
  const s = state.snippets.get(email.id);
  if (!s?.preview) return <>{email.preview}</>;
  return <>{marked(s.preview)}</>;
}

export function marked(html: string) {
  const out = [];
  const re = /<mark>([\s\S]*?)<\/mark>/g;
  let last = 0;
  let m: RegExpExecArray | null = re.exec(html);
  let k = 0;
  while (m !== null) {
    if (m.index > last) out.push(unescapeHTML(html.slice(last, m.index)));
    out.push(<mark key={k++}>{unescapeHTML(m[1])}</mark>);
    last = m.index + m[0].length;
    m = re.exec(html);
  }
  if (last < html.length) out.push(unescapeHTML(html.slice(last)));
  return out;
}

function unescapeHTML(s: string): string {
  return s
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#0*39;/g, "'")
    .replace(/&amp;/g, "&");
}
