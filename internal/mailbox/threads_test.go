package mailbox

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// TestThread: a reply filed in another folder through the service is in
// the original's conversation, both in the loaded index (ThreadID) and in
// the service's thread listing.
func TestThread(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	sent, err := f.st.Mailbox(ctx, f.inbox.AccountID, "Sent")
	if err != nil {
		t.Fatal(err)
	}
	add := func(raw string, mb int64) store.Delivered {
		t.Helper()
		m, err := f.st.Stage(ctx, strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.reg.Append(ctx, m, []store.Target{{MailboxID: mb}})
		if err != nil {
			t.Fatal(err)
		}
		return d[0]
	}
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	orig := add("Message-ID: <o@x>\r\nSubject: Plan\r\n\r\nx\r\n", f.inbox.ID)
	reply := add("Message-ID: <r@x>\r\nIn-Reply-To: <o@x>\r\nSubject: Re: Plan\r\n\r\ny\r\n", sent.ID)
	meta, ok := m.Message(orig.UID)
	if !ok || meta.ThreadID != orig.ID {
		t.Fatalf("loaded index: %+v, want thread %d", meta, orig.ID)
	}
	list, err := f.reg.Thread(ctx, f.inbox.AccountID, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ThreadMember{{MailboxID: f.inbox.ID, UID: orig.UID, ID: orig.ID}, {MailboxID: sent.ID, UID: reply.UID, ID: reply.ID}}
	if len(list) != 2 || list[0] != want[0] || list[1] != want[1] {
		t.Fatalf("thread %+v, want %+v", list, want)
	}
}
