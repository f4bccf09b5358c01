package imap

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailroom/internal/server"
	"mailroom/internal/store/blobfs/blobfstest"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/testrig"
)

// bigMessage is a message of about size bytes: over the store's inline
// limit, so its body goes to a file.
func bigMessage(size int) string {
	return "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", size/18)
}

func tmpLeft(t *testing.T, dataDir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "blobs", "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestAppendOnAFullDisk: an APPEND whose body cannot be written (disk full,
// fsync failing) is answered with a tagged NO, the rest of its literal is
// read away (or, synchronizing and not asked for yet, never requested), and
// the session goes on. Before, a 200 KB APPEND on a full disk got no reply:
// the file's ENOSPC was taken for a broken connection.
func TestAppendOnAFullDisk(t *testing.T) {
	dataDir := t.TempDir()
	disk := blobfstest.New()
	r := newRig(t, testrig.DataDir(dataDir), testrig.ServerOptions(server.StoreOptions(func(o *sqlitestore.Options) { o.WrapBlobFile = disk.Wrap })))
	r.Account("disk@example.test")
	x := r.raw(true)
	x.cmd("a1", `LOGIN disk@example.test "correct horse"`, "OK")
	x.cmd("a2", "SELECT INBOX", "OK")
	big := bigMessage(200 << 10)
	small := "Subject: small\r\n\r\nhello\r\n"

	// Full from the start, synchronizing literal.
	disk.Fill(0)
	x.Send("b1 APPEND INBOX {" + itoa(len(big)) + "}")
	x.Expect("+ ")
	x.Send(big)
	x.Expect("b1 NO [UNAVAILABLE] the server is out of disk space")
	x.cmd("b2", "NOOP", "OK")

	// Full halfway through, LITERAL+: the rest of the literal is skipped.
	disk.Fill(100 << 10)
	x.Send("c1 APPEND INBOX {" + itoa(len(big)) + "+}\r\n" + big)
	x.Expect("c1 NO [UNAVAILABLE]")
	x.cmd("c2", "NOOP", "OK")

	// MULTIAPPEND: the second message fails, the third, synchronizing, is
	// not asked for (no "+"), and the first is not kept (all or none).
	disk.Fill(0)
	x.Send("d1 APPEND INBOX {" + itoa(len(small)) + "+}\r\n" + small + " {" + itoa(len(big)) + "+}\r\n" + big + " {" + itoa(len(small)) + "}")
	x.Expect("d1 NO [UNAVAILABLE]")
	x.cmd("d2", "NOOP", "OK")

	// A failing fsync is not "out of space", but the session lives on too.
	disk.Free()
	disk.FailSync(syscall.EIO)
	x.Send("e1 APPEND INBOX {" + itoa(len(big)) + "+}\r\n" + big)
	x.Expect("e1 NO [SERVERBUG]")
	x.cmd("e2", "NOOP", "OK")

	// Space again: the same connection stores the message.
	disk.Free()
	if lines := x.cmd("f1", "APPEND INBOX {"+itoa(len(big))+"+}\r\n"+big, "OK [APPENDUID "); !has(lines, "* 1 EXISTS") {
		t.Fatalf("APPEND after the disk was freed: %q", lines)
	}
	if lines := x.cmd("f2", "FETCH 1 RFC822.SIZE", "OK"); !has(lines, "RFC822.SIZE "+itoa(len(big))) {
		t.Fatalf("FETCH after the disk was freed: %q", lines)
	}
	if n := tmpLeft(t, dataDir); n != 0 {
		t.Fatalf("%d failed bodies left in blobs/tmp", n)
	}
}

// TestAppendOnAFullDiskGoIMAP: the same with go-imap's client, which sends
// synchronizing literals and waits for each reply.
func TestAppendOnAFullDiskGoIMAP(t *testing.T) {
	disk := blobfstest.New()
	r := newRig(t, testrig.ServerOptions(server.StoreOptions(func(o *sqlitestore.Options) { o.WrapBlobFile = disk.Wrap })))
	r.Account("disk@example.test")
	c := r.client("disk@example.test", nil)
	big := bigMessage(200 << 10)
	appendMsg := func() (*imap.AppendData, error) {
		cmd := c.Append("INBOX", int64(len(big)), nil)
		if _, err := io.WriteString(cmd, big); err != nil {
			return nil, err
		}
		if err := cmd.Close(); err != nil {
			return nil, err
		}
		return cmd.Wait()
	}

	disk.Fill(64 << 10)
	_, err := appendMsg()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != "UNAVAILABLE" {
		t.Fatalf("APPEND on a full disk: %v, want NO [UNAVAILABLE]", err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("NOOP after the failed APPEND: %v", err)
	}
	disk.Free()
	d, err := appendMsg()
	if err != nil {
		t.Fatalf("APPEND once the disk was freed: %v", err)
	}
	if d.UID == 0 {
		t.Fatal("no APPENDUID")
	}
}

// TestAppendOnARealFullDisk fills a real (tmpfs) file system under the
// data directory, so SQLite meets the full disk too. It needs root to
// mount; CI runs as root.
func TestAppendOnARealFullDisk(t *testing.T) {
	dataDir := testrig.SmallDisk(t)
	r := newRig(t, testrig.DataDir(dataDir))
	r.Account("disk@example.test")
	x := r.raw(true)
	x.cmd("a1", `LOGIN disk@example.test "correct horse"`, "OK")

	free := testrig.FillDisk(t, dataDir)

	big := bigMessage(200 << 10)
	x.Send("b1 APPEND INBOX {" + itoa(len(big)) + "}")
	x.Expect("+ ")
	x.Send(big)
	x.Expect("b1 NO [UNAVAILABLE] the server is out of disk space")
	x.cmd("b2", "NOOP", "OK")
	// A small message is kept in the database: SQLite may still have room
	// in its WAL, or fail with SQLITE_FULL. Either way there is a reply.
	small := "Subject: small\r\n\r\nhello\r\n"
	x.Send("c1 APPEND INBOX {" + itoa(len(small)) + "+}\r\n" + small)
	if l := x.Line(); !strings.HasPrefix(l, "c1 OK") && !strings.HasPrefix(l, "c1 NO [UNAVAILABLE]") {
		t.Fatalf("small APPEND on a full disk: %q", l)
	} else {
		t.Logf("small APPEND on a full disk: %s", l)
	}
	x.cmd("c2", "NOOP", "OK")

	free()
	x.cmd("d1", "APPEND INBOX {"+itoa(len(big))+"+}\r\n"+big, "OK [APPENDUID ")
	if n := tmpLeft(t, dataDir); n != 0 {
		t.Fatalf("%d failed bodies left in blobs/tmp", n)
	}
}
