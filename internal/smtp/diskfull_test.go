package smtp

import (
	"strings"
	"syscall"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/server"
	"mailroom/internal/store/blobfs/blobfstest"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/testrig"
)

func bigMessage(size int) string {
	return "From: a@other.test\r\nSubject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", size/18)
}

// dataTransaction runs MAIL, RCPT and DATA with msg on a raw connection
// and returns the reply to the final dot.
func (x *raw) dataTransaction(rcpt, msg string) string {
	x.t.Helper()
	x.send("MAIL FROM:<a@other.test>\r\n")
	x.expect("250")
	x.send("RCPT TO:<" + rcpt + ">\r\n")
	x.expect("250")
	x.send("DATA\r\n")
	x.expect("354")
	x.send(msg + ".\r\n")
	return x.reply()
}

// TestDataOnAFullDisk: a message whose body cannot be written is refused
// with 452 4.3.1 (insufficient system storage, RFC 3463) when the disk is
// full, 451 4.3.0 when the disk fails otherwise, and the session goes on:
// the next transaction on the same connection is stored once there is
// room. (Before, a full disk was answered 451 4.3.0 like any failure.)
func TestDataOnAFullDisk(t *testing.T) {
	disk := blobfstest.New()
	r := newRig(t, nil, server.StoreOptions(func(o *sqlitestore.Options) { o.WrapBlobFile = disk.Wrap }))
	r.Account("bob@example.test")
	x := r.raw(r.Addr("smtp"))
	x.send("EHLO client.example.org\r\n")
	x.expect("250")
	big := bigMessage(200 << 10)

	disk.Fill(0)
	if l := x.dataTransaction("bob@example.test", big); !strings.HasPrefix(l, "452 4.3.1 ") {
		t.Fatalf("DATA on a full disk: %q, want 452 4.3.1", l)
	}
	disk.Fill(100 << 10) // full halfway through the body
	if l := x.dataTransaction("bob@example.test", big); !strings.HasPrefix(l, "452 4.3.1 ") {
		t.Fatalf("DATA filling the disk: %q, want 452 4.3.1", l)
	}
	disk.Free()
	disk.FailSync(syscall.EIO)
	if l := x.dataTransaction("bob@example.test", big); !strings.HasPrefix(l, "451 4.3.0 ") {
		t.Fatalf("DATA with a failing fsync: %q, want 451 4.3.0", l)
	}
	disk.Free()
	x.send("NOOP\r\n")
	x.expect("250")
	if l := x.dataTransaction("bob@example.test", big); !strings.HasPrefix(l, "250 ") {
		t.Fatalf("DATA once the disk was freed: %q", l)
	}
	if got := r.Bodies("bob@example.test", "INBOX"); len(got) != 1 {
		t.Fatalf("INBOX has %d messages, want 1", len(got))
	}
}

// TestDataOnAFullDiskGoSMTP: the same with go-smtp's client on submission.
func TestDataOnAFullDiskGoSMTP(t *testing.T) {
	disk := blobfstest.New()
	r := newRig(t, nil, server.StoreOptions(func(o *sqlitestore.Options) { o.WrapBlobFile = disk.Wrap }))
	r.Account("alice@example.test")
	r.Account("bob@example.test")
	c := r.login("alice@example.test")
	big := "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 200<<10/18)
	disk.Fill(64 << 10)
	wantCode(t, send(c, "alice@example.test", []string{"bob@example.test"}, big), 452, "4.3.1")
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP after the refused message: %v", err)
	}
	disk.Free()
	if err := send(c, "alice@example.test", []string{"bob@example.test"}, big); err != nil {
		t.Fatalf("sending once the disk was freed: %v", err)
	}
}

// TestDataOnARealFullDisk fills a real (tmpfs) file system under the data
// directory, so SQLite meets the full disk too. It needs root to mount; CI
// runs as root.
func TestDataOnARealFullDisk(t *testing.T) {
	dataDir := testrig.SmallDisk(t)
	r := newRig(t, func(c *config.Config) { c.DataDir = dataDir })
	r.Account("bob@example.test")
	x := r.raw(r.Addr("smtp"))
	x.send("EHLO client.example.org\r\n")
	x.expect("250")

	free := testrig.FillDisk(t, dataDir)

	big := bigMessage(200 << 10)
	if l := x.dataTransaction("bob@example.test", big); !strings.HasPrefix(l, "452 4.3.1 ") {
		t.Fatalf("DATA on a full disk: %q, want 452 4.3.1", l)
	}
	// A small message goes into the database, which may still have room
	// in its WAL; if not, it is refused the same way.
	l := x.dataTransaction("bob@example.test", "From: a@other.test\r\nSubject: small\r\n\r\nhello\r\n")
	if !strings.HasPrefix(l, "250 ") && !strings.HasPrefix(l, "452 4.3.1 ") {
		t.Fatalf("small DATA on a full disk: %q", l)
	}
	t.Logf("small DATA on a full disk: %s", l)
	free()
	if l := x.dataTransaction("bob@example.test", big); !strings.HasPrefix(l, "250 ") {
		t.Fatalf("DATA once the disk was freed: %q", l)
	}
}
