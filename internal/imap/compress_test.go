package imap

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingReader counts the bytes that crossed the wire.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// deflateConn writes a DEFLATE stream, flushed after every write, as a
// COMPRESS=DEFLATE client does.
type deflateConn struct {
	net.Conn
	fw *flate.Writer
}

func (c *deflateConn) Write(p []byte) (int, error) {
	n, err := c.fw.Write(p)
	if err != nil {
		return n, err
	}
	return n, c.fw.Flush()
}

// compress runs COMPRESS DEFLATE on x and switches x to the DEFLATE
// streams; it returns the count of compressed bytes read from then on.
func (x *raw) compress(t testing.TB) *countingReader {
	t.Helper()
	x.cmd("z", "COMPRESS DEFLATE", "OK")
	fw, err := flate.NewWriter(x.Conn, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	wire := &countingReader{r: x.Conn}
	x.Conn = &deflateConn{Conn: x.Conn, fw: fw}
	x.R = bufio.NewReader(flate.NewReader(wire))
	return wire
}

// COMPRESS=DEFLATE (RFC 4978): offered once logged in, then every command
// and response crosses as DEFLATE — a large FETCH much smaller than the
// message — and a second COMPRESS is refused with COMPRESSIONACTIVE.
func TestCompressDeflate(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	line := "The quarterly minutes, once more, for the record.\r\n"
	r.Deliver(acct, "Subject: minutes\r\n\r\n"+strings.Repeat(line, 2000))

	x := r.raw(true)
	if caps := x.cmd("c0", "CAPABILITY", "OK"); has(caps, "COMPRESS=DEFLATE") {
		t.Errorf("COMPRESS offered before login: %q", caps)
	}
	x.cmd("c1", "COMPRESS DEFLATE", "BAD") // not valid before authentication
	x.cmd("l", `LOGIN ann@example.test "`+password+`"`, "OK")
	if caps := x.cmd("c2", "CAPABILITY", "OK"); !has(caps, "COMPRESS=DEFLATE") {
		t.Fatalf("COMPRESS not offered after login: %q", caps)
	}
	x.cmd("c3", "COMPRESS X-UNKNOWN", "BAD")
	x.cmd("n", "NOOP", "OK") // still uncompressed after a refusal

	wire := x.compress(t)
	x.cmd("s", "SELECT INBOX", "OK")
	lines := x.cmd("f", "FETCH 1 BODY[TEXT]", "OK")
	if got := strings.Count(strings.Join(lines, "\n"), "The quarterly minutes"); got != 2000 {
		t.Fatalf("FETCH over DEFLATE returned %d of the 2000 lines", got)
	}
	size := int64(len(line) * 2000)
	if n := wire.n.Load(); n > size/5 {
		t.Errorf("%d bytes on the wire for a %d-byte body: not compressed", n, size)
	}
	if l := x.cmd("z2", "COMPRESS DEFLATE", "NO"); !has(l, "[COMPRESSIONACTIVE]") {
		t.Errorf("second COMPRESS: %q", l)
	}
	x.cmd("o", "LOGOUT", "OK")
}

// Responses pushed while the client waits (IDLE) are flushed through the
// DEFLATE stream at once, not held until a deflate block fills.
func TestCompressIdlePush(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	x := r.login("ann@example.test")
	x.compress(t)
	x.cmd("s", "SELECT INBOX", "OK")
	x.Send("i IDLE")
	x.Expect("+")
	r.Deliver(acct, "Subject: new\r\n\r\nhello\r\n")
	x.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for l := x.Line(); l != "* 1 EXISTS"; l = x.Line() {
		if !strings.HasPrefix(l, "* ") {
			t.Fatalf("in IDLE over DEFLATE, waiting for EXISTS: %q", l)
		}
	}
	x.Send("DONE")
	for l := x.Line(); !strings.HasPrefix(l, "i "); l = x.Line() {
	}
}

// textMessage is a realistic message of about size bytes: headers and
// lines of text that vary, so that it does not compress to nothing.
func textMessage(size int, subject string) string {
	var b strings.Builder
	b.WriteString("From: Bob <bob@example.test>\r\nTo: ann@example.test\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "@example.test>\r\nDate: Sun, 6 Dec 2026 10:00:00 +0000\r\n\r\n")
	words := strings.Fields("minutes quarterly report agenda budget für réunion 会議 review the of and to attached please")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%d %s %s %s, %s.\r\n", i, words[i%len(words)], words[(i*7)%len(words)], words[(i*3+1)%len(words)], words[(i*5+2)%len(words)])
	}
	return b.String()
}

// readFetchLiteral reads "* n FETCH (... {size}", the literal, and the
// rest of the response up to the tagged OK; it returns the literal.
func (x *raw) readFetchLiteral(t *testing.T, tag string) []byte {
	t.Helper()
	l := x.Line()
	i := strings.LastIndexByte(l, '{')
	if !strings.HasPrefix(l, "* ") || i < 0 || !strings.HasSuffix(l, "}") {
		t.Fatalf("want a FETCH with a literal, got %q", l)
	}
	n, err := strconv.Atoi(l[i+1 : len(l)-1])
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(x.R, body); err != nil {
		t.Fatalf("reading a %d-byte literal: %v", n, err)
	}
	for l := x.Line(); !strings.HasPrefix(l, tag+" "); l = x.Line() {
	}
	return body
}

// tagged reads lines up to the reply tagged tag, which must start with want.
func (x *raw) tagged(tag, want string) {
	x.T.Helper()
	for l := x.Line(); ; l = x.Line() {
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" "+want) {
				x.T.Fatalf("got %q, want %s %s", l, tag, want)
			}
			return
		}
	}
}

// A client compressing with compress/flate and sync flushes: a 1 MB FETCH,
// IDLE with an EXISTS caused by another session, and APPEND with a
// synchronizing literal (its continuation request must leave the
// compressor at once) and a LITERAL+ one, all through DEFLATE.
func TestCompressZlibClient(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	msg := textMessage(1<<20, "big")
	r.Deliver(acct, msg)

	x := r.login("ann@example.test")
	wire := x.compress(t)
	x.cmd("s", "SELECT INBOX", "OK")
	x.Send("f FETCH 1 BODY.PEEK[]")
	if got := x.readFetchLiteral(t, "f"); string(got) != msg {
		t.Fatalf("FETCH of a 1 MB message over DEFLATE: %d bytes, want %d, equal %v", len(got), len(msg), string(got) == msg)
	}
	if n := wire.n.Load(); n > int64(len(msg))/3 {
		t.Errorf("%d bytes on the wire for a %d-byte message", n, len(msg))
	}

	// IDLE: another session's APPEND shows up as EXISTS, promptly.
	x.Send("i IDLE")
	x.Expect("+")
	y := r.login("ann@example.test")
	other := "Subject: from another session\r\n\r\nhello\r\n"
	y.Send(fmt.Sprintf("a APPEND INBOX {%d+}\r\n%s", len(other), other))
	y.Expect("a OK")
	x.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for l := x.Line(); l != "* 2 EXISTS"; l = x.Line() {
		if !strings.HasPrefix(l, "* ") {
			t.Fatalf("in IDLE over DEFLATE, waiting for EXISTS: %q", l)
		}
	}
	x.Conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	x.Send("DONE")
	for l := x.Line(); !strings.HasPrefix(l, "i "); l = x.Line() {
	}

	// APPEND with a synchronizing literal, then with LITERAL+.
	up := textMessage(200<<10, "up")
	x.Send(fmt.Sprintf("a1 APPEND INBOX {%d}", len(up)))
	x.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	x.Expect("+")
	x.Conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	x.Send(up)
	x.tagged("a1", "OK")
	x.Send(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s", len(other), other))
	x.tagged("a2", "OK")
	x.cmd("n", "NOOP", "OK")
	x.Send("g FETCH 3 BODY.PEEK[]")
	if got := x.readFetchLiteral(t, "g"); string(got) != up {
		t.Fatalf("APPENDed over DEFLATE, FETCHed back: %d bytes, want %d", len(got), len(up))
	}
	x.cmd("o", "LOGOUT", "OK")
}

// A client that does not wait for COMPRESS's OK and sends its next
// command, compressed, in the same packet: RFC 4978 says it compresses
// "starting with the first command after COMPRESS", so the server takes
// the bytes it has already read past COMPRESS's CRLF as the start of the
// DEFLATE stream.
func TestCompressPipelined(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.login("ann@example.test")
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	fw.Write([]byte("n NOOP\r\n"))
	fw.Flush()
	if _, err := x.Conn.Write(append([]byte("z COMPRESS DEFLATE\r\n"), z.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	x.Expect("z OK")
	// What the bufio.Reader read past the OK is compressed.
	x.R = bufio.NewReader(flate.NewReader(io.MultiReader(x.R, x.Conn)))
	x.Expect("n OK")
}

// COMPRESS after STARTTLS (RFC 4978 section 3: TLS first, then COMPRESS);
// STARTTLS is not possible after it, as COMPRESS needs a login.
func TestCompressAfterStartTLS(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.raw(false)
	x.cmd("t", "STARTTLS", "OK")
	x.StartTLS()
	x.cmd("l", `LOGIN ann@example.test "`+password+`"`, "OK")
	x.compress(t)
	x.cmd("s", "SELECT INBOX", "OK")
	x.cmd("t2", "STARTTLS", "BAD")
	x.cmd("o", "LOGOUT", "OK")
}

// A decompression bomb: a few hundred kilobytes of DEFLATE that expand to
// an endless command line. The line limit stops it (BAD), the resync
// budget ends the session (BYE), and the server's memory stays flat.
func TestCompressBomb(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.login("ann@example.test")
	x.cmd("z", "COMPRESS DEFLATE", "OK")
	wire := &countingWriter{w: x.Conn}
	fw, _ := flate.NewWriter(wire, flate.BestSpeed)
	x.R = bufio.NewReader(flate.NewReader(x.Conn))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	var sent atomic.Int64
	go func() {
		chunk := bytes.Repeat([]byte("a"), 1<<20)
		fw.Write([]byte("b NOOP "))
		for range 1 << 12 { // up to 4 GiB expanded; the server hangs up long before
			if _, err := fw.Write(chunk); err != nil {
				return
			}
			if fw.Flush() != nil {
				return
			}
			sent.Add(int64(len(chunk)))
		}
	}()
	x.Expect("b BAD")
	x.Expect("* BYE")
	// The server closes its side: the end of the TLS stream ends the
	// DEFLATE stream early (it has no final block).
	x.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := x.R.ReadByte(); err != io.ErrUnexpectedEOF {
		t.Errorf("after BYE: %v, want the server to have closed the connection", err)
	}
	close(stop)
	<-sampled
	t.Logf("bomb: %d MB expanded from %d KB on the wire; server heap %d MB before, peak %d MB",
		sent.Load()>>20, wire.n.Load()>>10, before.HeapInuse>>20, peak.Load()>>20)
	if grew := int64(peak.Load()) - int64(before.HeapInuse); grew > 64<<20 {
		t.Errorf("heap grew by %d MB during the bomb", grew>>20)
	}
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// zlibPartialScript is an IMAP client on Python's zlib that ends every
// write with Z_PARTIAL_FLUSH, as mbsync does: the flush leaves the last
// bits of an empty fixed block in the compressor, so the server must act
// on a block's data without waiting for the next byte.
const zlibPartialScript = `
import socket, ssl, sys, zlib
host, port, user, pw, body = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].encode()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((host, port), timeout=10))
buf = b""
z = None
inf = None
def fill():
    global buf
    data = s.recv(65536)
    if not data:
        raise SystemExit("server closed the connection")
    buf += inf.decompress(data) if inf else data
def line():
    global buf
    while b"\r\n" not in buf:
        fill()
    l, buf = buf.split(b"\r\n", 1)
    return l.decode()
def read(n):
    global buf
    while len(buf) < n:
        fill()
    d, buf = buf[:n], buf[n:]
    return d
def send(data):
    s.sendall(z.compress(data) + z.flush(zlib.Z_PARTIAL_FLUSH) if z else data)
def cmd(tag, c):
    send(tag + b" " + c + b"\r\n")
    while True:
        l = line()
        if l.startswith(tag.decode() + " "):
            return l
print(line())
print(cmd(b"l", b'LOGIN %s "%s"' % (user.encode(), pw.encode())))
print(cmd(b"z", b"COMPRESS DEFLATE"))
z = zlib.compressobj(6, zlib.DEFLATED, -15)
inf = zlib.decompressobj(-15)
print(cmd(b"s", b"SELECT INBOX"))
send(b"f FETCH 1 BODY.PEEK[]\r\n")
l = line()
n = int(l[l.rindex("{")+1:-1])
print("fetched", read(n) == body, n)
print(line(), line())
send(b"a APPEND INBOX {%d}\r\n" % len(body))
print(line())
for i in range(0, len(body), 1000):
    send(body[i:i+1000])
send(b"\r\n")
while True:
    l = line()
    if l.startswith("a "):
        print(l)
        break
print(cmd(b"n", b"NOOP"))
print(cmd(b"o", b"LOGOUT"))
`

func TestCompressZlibPartialFlush(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/install-test-deps.sh installs it)")
	}
	r := newRig(t)
	acct := r.Account("ann@example.test")
	msg := textMessage(100<<10, "partial")
	r.Deliver(acct, msg)
	host, port := splitAddr(r.Addr("imaps"))
	out, err := exec.Command(python, "-c", zlibPartialScript, host, port, "ann@example.test", password, msg).CombinedOutput()
	if err != nil {
		t.Fatalf("zlib client: %v\n%s", err, out)
	}
	for _, want := range []string{"z OK", "s OK", "fetched True", "f OK", "+ ", "a OK", "n OK", "o OK"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("zlib client output lacks %q:\n%s", want, out)
		}
	}
}

// Sessions share the server's compressors, one per response burst: two
// compressed sessions fetching at once each get their own stream intact,
// and many small responses in a row (each burst from a fresh compressor)
// decode in order.
func TestCompressSessionsShareCompressors(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	msgs := []string{textMessage(300<<10, "one"), textMessage(50<<10, "two")}
	for _, m := range msgs {
		r.Deliver(acct, m)
	}
	done := make(chan error, 2)
	for range 2 {
		x := r.login("ann@example.test")
		x.compress(t)
		x.cmd("s", "SELECT INBOX", "OK")
		go func() {
			defer func() { done <- nil }()
			for i := range 20 {
				n := i%2 + 1
				x.Send(fmt.Sprintf("f FETCH %d BODY.PEEK[]", n))
				if got := x.readFetchLiteral(t, "f"); string(got) != msgs[n-1] {
					t.Errorf("FETCH %d: %d bytes, want %d", n, len(got), len(msgs[n-1]))
					return
				}
				for j := range 5 {
					x.cmd(fmt.Sprintf("n%d", j), "NOOP", "OK")
				}
			}
		}()
	}
	<-done
	<-done
}

// A corrupt DEFLATE stream from the client (here block type 3, which RFC
// 1951 reserves) ends the session with a BYE, compressed like every
// response after COMPRESS, whether it comes between commands or inside
// one.
func TestCompressCorruptStream(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	for _, before := range []string{"", "a NOOP"} {
		x := r.login("ann@example.test")
		x.cmd("z", "COMPRESS DEFLATE", "OK")
		x.R = bufio.NewReader(flate.NewReader(x.Conn))
		var z bytes.Buffer
		fw, _ := flate.NewWriter(&z, flate.BestSpeed)
		fw.Write([]byte(before))
		fw.Flush()
		z.WriteByte(0x07) // final block of type 3
		x.Conn.Write(z.Bytes())
		if l := x.Expect("* BYE"); !strings.Contains(l, "corrupt") {
			t.Errorf("after %q and a corrupt block: %q", before, l)
		}
	}
}
