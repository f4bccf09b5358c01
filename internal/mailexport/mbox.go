package mailexport

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailroom/internal/store"
)

// mboxWriter writes one folder as an mboxrd file.
type mboxWriter struct {
	f  *os.File
	bw *bufio.Writer
	br *bufio.Reader
}

func newMboxWriter(path string) (*mboxWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &mboxWriter{f: f, bw: bufio.NewWriterSize(f, 64<<10), br: bufio.NewReaderSize(nil, 64<<10)}, nil
}

// add writes the "From " line (the envelope sender from Return-Path, the
// internal date in UTC), the status fields right after it (mutt and
// mailimport read them anywhere in the header), the message with LF
// line endings and mboxrd escaping, and the blank line that ends every
// message of an mbox.
func (w *mboxWriter) add(m store.MessageMeta, body store.Body) (int64, error) {
	fmt.Fprintf(w.bw, "From %s %s\n", envelopeSender(body), time.Unix(m.InternalDate, 0).UTC().Format(time.ANSIC))
	if m.Flags&store.FlagSeen != 0 {
		w.bw.WriteString("Status: RO\n")
	} else {
		w.bw.WriteString("Status: O\n")
	}
	var xs []byte
	for _, f := range []struct {
		flag   store.Flags
		letter byte
	}{{store.FlagAnswered, 'A'}, {store.FlagFlagged, 'F'}, {store.FlagDraft, 'T'}, {store.FlagDeleted, 'D'}} {
		if m.Flags&f.flag != 0 {
			xs = append(xs, f.letter)
		}
	}
	if len(xs) > 0 {
		fmt.Fprintf(w.bw, "X-Status: %s\n", xs)
	}
	if len(m.Keywords) > 0 {
		fmt.Fprintf(w.bw, "X-Keywords: %s\n", strings.Join(m.Keywords, " "))
	}
	n, endsLF, err := copyLines(w.bw, io.NewSectionReader(body, 0, body.Size()), w.br, true)
	if err != nil {
		return n, err
	}
	if !endsLF {
		// An mbox message ends with a newline; the reader gives it back
		// as CRLF, the one change a round trip makes.
		w.bw.WriteByte('\n')
	}
	_, err = w.bw.WriteString("\n")
	return n, err
}

// envelopeSender is the Return-Path address, or MAILER-DAEMON as mutt and
// Dovecot write when there is none. Only the first 16 KiB of the header
// are read.
func envelopeSender(body io.ReaderAt) string {
	buf := make([]byte, 16<<10)
	n, _ := body.ReadAt(buf, 0)
	buf = buf[:n]
	for len(buf) > 0 {
		line, rest, _ := bytes.Cut(buf, []byte("\n"))
		buf = rest
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !strings.EqualFold(string(bytes.TrimSpace(name)), "Return-Path") {
			continue
		}
		v := strings.TrimSpace(string(value))
		if v == "<>" {
			return "MAILER-DAEMON"
		}
		if a, err := mail.ParseAddress(v); err == nil && a.Address != "" && !strings.ContainsAny(a.Address, " \t") {
			return a.Address
		}
	}
	return "MAILER-DAEMON"
}

func (w *mboxWriter) close() error {
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
