package mailapi

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"sort"
	"strings"
	"unicode/utf8"

	"mailroom/internal/jmap"
	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/mime"
)

// SearchSnippet/get (RFC 8621 §5): the subject and a piece of the body of
// each Email with the terms of the filter's text, subject and body
// conditions marked, so a client can show why an Email matched.

type snippetArgs struct {
	AccountID string          `json:"accountId"`
	Filter    json.RawMessage `json:"filter"`
	EmailIDs  []string        `json:"emailIds"`
}

type searchSnippet struct {
	EmailID string  `json:"emailId"`
	Subject *string `json:"subject"`
	Preview *string `json:"preview"`
}

type snippetResponse struct {
	AccountID string          `json:"accountId"`
	List      []searchSnippet `json:"list"`
	NotFound  []string        `json:"notFound"`
}

// Bounds of a snippet.
const (
	maxSnippetBytes  = 255     // RFC 8621 §5: preview at most 255 octets
	snippetLead      = 40      // bytes of context before the first match
	maxSnippetSource = 1 << 20 // body text read per Email
)

func (a *API) searchSnippetGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args snippetArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if len(args.EmailIDs) > c.Limits.MaxObjectsInGet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d emailIds", c.Limits.MaxObjectsInGet))
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(c, ac, args.Filter)
	if err != nil {
		return nil, err
	}
	var subjectTerms, bodyTerms []string
	snippetTerms(f.root, &subjectTerms, &bodyTerms)
	want := map[int64]bool{}
	for _, id := range args.EmailIDs {
		id, _ = c.ResolveID(id)
		if n, ok := parseID('M', id); ok {
			want[n] = true
		}
	}
	found, err := a.locate(ctx, ac, want)
	if err != nil {
		return nil, err
	}
	resp := &snippetResponse{AccountID: ac.jid, List: []searchSnippet{}}
	for _, id := range args.EmailIDs {
		id, _ = c.ResolveID(id)
		n, _ := parseID('M', id)
		loc, ok := found[n]
		if !ok {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		s := searchSnippet{EmailID: id}
		if len(subjectTerms)+len(bodyTerms) > 0 {
			if err := a.snippet(ctx, ac, loc, subjectTerms, bodyTerms, &s); err != nil {
				return nil, err
			}
		}
		resp.List = append(resp.List, s)
	}
	return resp, nil
}

// snippetTerms collects the words and phrases of the conditions that
// look at the subject and the body; those under NOT match by their
// absence and mark nothing.
func snippetTerms(n *filterNode, subject, body *[]string) {
	if n == nil || n.op == "NOT" {
		return
	}
	for _, ch := range n.children {
		snippetTerms(ch, subject, body)
	}
	if c := n.cond; c != nil {
		if c.Text != nil {
			*subject = append(*subject, splitTerms(*c.Text)...)
			*body = append(*body, splitTerms(*c.Text)...)
		}
		if c.Subject != nil {
			*subject = append(*subject, splitTerms(*c.Subject)...)
		}
		if c.Body != nil {
			*body = append(*body, splitTerms(*c.Body)...)
		}
		if c.mq != nil {
			keyTerms(c.mq.q.Key, subject, body)
		}
	}
}

// splitTerms splits search text as RFC 8621 §4.4.1 reads it: quoted
// phrases (with \ escaping ' " and \) and whitespace-separated words.
func splitTerms(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if q := s[0]; q == '"' || q == '\'' {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != q; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if t := strings.TrimSpace(b.String()); t != "" {
				out = append(out, t)
			}
			s = s[min(i+1, len(s)):]
			continue
		}
		end := strings.IndexAny(s, " \t\r\n")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

func (a *API) snippet(ctx context.Context, ac *acct, loc located, subjectTerms, bodyTerms []string, s *searchSnippet) error {
	f := ac.folders[loc.folder]
	st, err := a.svc.Structure(ctx, f.ID(), loc.meta.UID)
	if err != nil {
		return fmt.Errorf("structure of message %d: %w", loc.meta.ID, err)
	}
	body, err := a.svc.OpenBody(ctx, f.ID(), loc.meta.UID)
	if err != nil {
		return fmt.Errorf("open message %d: %w", loc.meta.ID, err)
	}
	defer body.Close()
	if len(subjectTerms) > 0 {
		sum, err := emailprops.SummaryOf(body, st)
		if err != nil {
			return fmt.Errorf("header of message %d: %w", loc.meta.ID, err)
		}
		if sum.Subject != nil {
			if m, ok := markTerms(*sum.Subject, subjectTerms); ok {
				s.Subject = &m
			}
		}
	}
	if len(bodyTerms) > 0 {
		text, _, _, err := emailprops.BodyLists(body, st, nil, []string{"partId", "type"})
		if err != nil {
			return fmt.Errorf("body of message %d: %w", loc.meta.ID, err)
		}
		var all strings.Builder
		for _, p := range text {
			if p.Part == nil || p.Part.Type != "text" || all.Len() > maxSnippetSource {
				continue
			}
			v, err := emailprops.BodyValue(body, p.Part, maxSnippetSource)
			if err != nil {
				return fmt.Errorf("body of message %d: %w", loc.meta.ID, err)
			}
			all.WriteString(mime.PlainText(v.Value, p.Part.Subtype == "html", maxSnippetSource))
			all.WriteByte(' ')
		}
		if m, ok := previewSnippet(strings.TrimSpace(all.String()), bodyTerms); ok {
			s.Preview = &m
		}
	}
	return nil
}

// matches finds the byte spans of s where a term occurs (case-
// insensitively), merged where they overlap.
func matches(s string, terms []string) [][2]int {
	var spans [][2]int
	for i := 0; i < len(s); {
		best := 0
		for _, t := range terms {
			if len(t) > best && i+len(t) <= len(s) && strings.EqualFold(s[i:i+len(t)], t) {
				best = len(t)
			}
		}
		if best > 0 {
			spans = append(spans, [2]int{i, i + best})
			i += best
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a][0] < spans[b][0] })
	return spans
}

// markTerms HTML-escapes s and wraps the matches in <mark></mark>;
// false if nothing matched.
func markTerms(s string, terms []string) (string, bool) {
	spans := matches(s, terms)
	if len(spans) == 0 {
		return "", false
	}
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		b.WriteString(html.EscapeString(s[at:sp[0]]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(s[sp[0]:sp[1]]))
		b.WriteString("</mark>")
		at = sp[1]
	}
	b.WriteString(html.EscapeString(s[at:]))
	return b.String(), true
}

// previewSnippet is the part of the body text around its first match,
// marked, at most maxSnippetBytes octets once escaped and marked.
func previewSnippet(text string, terms []string) (string, bool) {
	spans := matches(text, terms)
	if len(spans) == 0 {
		return "", false
	}
	start := max(0, spans[0][0]-snippetLead)
	if start > 0 {
		// Start at a word.
		if i := strings.IndexByte(text[start:spans[0][0]], ' '); i >= 0 {
			start += i + 1
		}
		for start < len(text) && !utf8.RuneStart(text[start]) {
			start++
		}
	}
	for n := maxSnippetBytes; n > 0; n -= 16 {
		end := min(len(text), start+n)
		for end > start && end < len(text) && !utf8.RuneStart(text[end]) {
			end--
		}
		m, _ := markTerms(text[start:end], terms)
		if len(m) <= maxSnippetBytes {
			return m, true
		}
	}
	return "", false
}
