package sqlitestore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// replyMessage is message i of conversations of 50 replies each: a
// Message-ID, In-Reply-To its predecessor and References its last 20
// ancestors, the conversation's root first, as mail clients write them.
func replyMessage(i int) []byte {
	root := i - i%50
	var refs []string
	for j := max(root, i-20); j < i; j++ {
		refs = append(refs, fmt.Sprintf("<%d@bench>", j))
	}
	if len(refs) > 0 && i-20 > root {
		refs = append([]string{fmt.Sprintf("<%d@bench>", root)}, refs...)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Bench <bench@example.org>\r\nTo: demo@example.test\r\nSubject: Re: conversation %d\r\nMessage-ID: <%d@bench>\r\n", root, i)
	if i > root {
		fmt.Fprintf(&b, "In-Reply-To: <%d@bench>\r\nReferences: %s\r\n", i-1, strings.Join(refs, "\r\n "))
	}
	b.WriteString("\r\n")
	for b.Len() < 4*1024 {
		b.WriteString(strings.Repeat("0123456789", 7) + "\r\n")
	}
	return b.Bytes()
}

// BenchmarkDeliverAllReplies delivers b.N replies (see replyMessage) in
// transactions of 100 (DeliverAll, as MULTIAPPEND or a mail import does):
// with the commit's fsync shared, what is measured is the work per message
// inside the writer, thread assignment included. Reports µs/msg.
func BenchmarkDeliverAllReplies(b *testing.B) {
	st := openWith(b, Options{Dir: b.TempDir()})
	defer st.Close()
	inbox := setupInbox(b, st)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 {
		var batch []store.Delivery
		for j := i; j < min(i+100, b.N); j++ {
			m, err := st.Stage(ctx, bytes.NewReader(replyMessage(j)))
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, store.Delivery{Msg: m, Targets: []store.Target{{MailboxID: inbox.ID}}})
		}
		if _, err := st.DeliverAll(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/msg")
}
