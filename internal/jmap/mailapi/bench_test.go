package mailapi_test

import (
	"fmt"
	"testing"
)

// BenchmarkQueryGet50 is the webmail's and the load tool's list: the 50
// newest of an inbox with their summaries, in one request.
func BenchmarkQueryGet50(b *testing.B) {
	r := newRigB(b)
	for i := range 1000 {
		r.Deliver(r.acct, msg("bob@example.org", fmt.Sprintf("bench %d", i), "some text of the message body"))
	}
	cl := r.clientB(b, "ann@example.test")
	inbox := fmt.Sprintf("F%d", r.Mailbox(r.acct, "INBOX").ID)
	calls := [][]any{
		{"Email/query", map[string]any{"accountId": cl.account, "filter": map[string]any{"inMailbox": inbox},
			"sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "limit": 50, "collapseThreads": true}, "q"},
		{"Email/get", map[string]any{"accountId": cl.account, "#ids": map[string]any{"resultOf": "q", "name": "Email/query", "path": "/ids"},
			"properties": []string{"subject", "from", "receivedAt", "preview", "keywords"}}, "g"},
	}
	b.ResetTimer()
	for range b.N {
		cl.call(nil, calls...)
	}
}
