package mailexport

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mailroom/internal/imap/wire"
	"mailroom/internal/store"
)

// maildirPath is the folder's directory in a Maildir++ tree: "" for INBOX,
// ".Lists.Dev" for "Lists/Dev", in modified UTF-7 as Dovecot and Courier
// write names. A "." inside a name is Maildir++'s level separator, so
// such a folder comes back one level deeper (the export's Note says so).
func maildirPath(name string) string {
	if name == "INBOX" {
		return ""
	}
	return "." + strings.ReplaceAll(wire.EncodeMUTF7(name), store.Delimiter, ".")
}

// maildirWriter writes one folder: cur/ (every message is "seen by a
// client" in Maildir's sense), new/ and tmp/ (empty, as readers expect
// them), and dovecot-keywords.
type maildirWriter struct {
	dir      string
	letters  map[string]byte // keyword → its letter
	keywords []string        // by letter
	lost     []string        // keywords beyond the 26 letters
	bw       *bufio.Writer
	br       *bufio.Reader
}

// maxMaildirKeywords: a file name has the letters a–z for keywords.
const maxMaildirKeywords = 26

func newMaildirWriter(dir string, msgs []store.MessageMeta) (*maildirWriter, error) {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	mw := &maildirWriter{
		dir: dir, letters: map[string]byte{},
		bw: bufio.NewWriterSize(nil, 64<<10), br: bufio.NewReaderSize(nil, 64<<10),
	}
	// The most used keywords get the letters when there are more than 26.
	count := map[string]int{}
	for _, m := range msgs {
		for _, k := range m.Keywords {
			if k != "$Forwarded" { // a flag letter of its own, P
				count[k]++
			}
		}
	}
	kws := make([]string, 0, len(count))
	for k := range count {
		kws = append(kws, k)
	}
	sort.Slice(kws, func(i, j int) bool {
		if count[kws[i]] != count[kws[j]] {
			return count[kws[i]] > count[kws[j]]
		}
		return kws[i] < kws[j]
	})
	for i, k := range kws {
		if i < maxMaildirKeywords {
			mw.letters[k] = byte('a' + i)
			mw.keywords = append(mw.keywords, k)
		} else {
			mw.lost = append(mw.lost, k)
		}
	}
	return mw, nil
}

// info is the part of the file name after ":2,": the flag letters in
// ASCII order, as the Maildir specification asks.
func (mw *maildirWriter) info(m store.MessageMeta) string {
	var b []byte
	if m.Flags&store.FlagDraft != 0 {
		b = append(b, 'D')
	}
	if m.Flags&store.FlagFlagged != 0 {
		b = append(b, 'F')
	}
	var letters []byte
	for _, k := range m.Keywords {
		if k == "$Forwarded" {
			b = append(b, 'P')
		} else if l, ok := mw.letters[k]; ok {
			letters = append(letters, l)
		}
	}
	if m.Flags&store.FlagAnswered != 0 {
		b = append(b, 'R')
	}
	if m.Flags&store.FlagSeen != 0 {
		b = append(b, 'S')
	}
	if m.Flags&store.FlagDeleted != 0 {
		b = append(b, 'T')
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	return string(append(b, letters...))
}

// add writes the message into tmp/ and renames it into cur/ once
// complete, so a reader never sees half a message. The unique part of
// the name starts with the UID, zero-padded: mailimport imports a folder
// in name order, so the messages come back in the same order.
func (mw *maildirWriter) add(m store.MessageMeta, body store.Body) (int64, error) {
	base := fmt.Sprintf("%010d.M%d.mailroom", m.UID, m.ID)
	tmp := filepath.Join(mw.dir, "tmp", base)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	mw.bw.Reset(f)
	n, _, err := copyLines(mw.bw, io.NewSectionReader(body, 0, body.Size()), mw.br, false)
	if err == nil {
		err = mw.bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		d := time.Unix(m.InternalDate, 0)
		err = os.Chtimes(tmp, d, d)
	}
	if err == nil {
		// S= is the file's size, which Dovecot reads instead of stat-ing.
		name := fmt.Sprintf("%s,S=%d:2,%s", base, n, mw.info(m))
		err = os.Rename(tmp, filepath.Join(mw.dir, "cur", name))
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// close writes dovecot-keywords: "N keyword" per line, N the letter's
// index (a is 0).
func (mw *maildirWriter) close() error {
	if len(mw.keywords) == 0 {
		return nil
	}
	var b strings.Builder
	for i, k := range mw.keywords {
		fmt.Fprintf(&b, "%d %s\n", i, k)
	}
	return os.WriteFile(filepath.Join(mw.dir, "dovecot-keywords"), []byte(b.String()), 0o600)
}
