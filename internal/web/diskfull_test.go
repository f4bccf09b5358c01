package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mailroom/internal/server"
	"mailroom/internal/store/blobfs/blobfstest"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/testrig"
)

// TestComposeOnAFullDisk: a message whose body cannot be written is not
// sent, the page says the server is out of disk space (507) and keeps what
// was typed, and the same form goes through once there is room.
func TestComposeOnAFullDisk(t *testing.T) {
	disk := blobfstest.New()
	r := newRig(t, testrig.ServerOptions(server.StoreOptions(func(o *sqlitestore.Options) { o.WrapBlobFile = disk.Wrap })))
	r.Account("bob@example.test")
	b := r.browser()
	b.login("ann@example.test")
	report := []byte(strings.Repeat("the quarterly numbers\r\n", 200<<10/23)) // a body file, not inline
	form := url.Values{"csrf": {b.csrf}, "action": {"send"}, "to": {"bob@example.test"}, "subject": {"report"}, "body": {"Attached."}}

	disk.Fill(32 << 10)
	code, _, page := b.postMultipart("/compose", false, form, upload{"files", "report.txt", "text/plain", report})
	if code != http.StatusInsufficientStorage || !strings.Contains(page, "out of disk space") {
		t.Fatalf("compose on a full disk: %d\n%s", code, page)
	}
	if f := composeForm(t, page); f.Get("subject") != "report" || f.Get("body") != "Attached." {
		t.Errorf("the typed text was not kept: %v", f)
	}
	if list := r.Read("bob@example.test", "INBOX"); len(list) != 0 {
		t.Fatal("a message went out although it could not be stored")
	}

	disk.Free()
	if code, _, page := b.postMultipart("/compose", false, form, upload{"files", "report.txt", "text/plain", report}); code != http.StatusSeeOther {
		t.Fatalf("compose once the disk was freed: %d\n%s", code, page)
	}
	if list := r.Read("bob@example.test", "INBOX"); len(list) != 1 {
		t.Fatalf("bob has %d messages, want 1", len(list))
	}
}
