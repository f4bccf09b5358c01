package mailapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	"golang.org/x/text/unicode/norm"

	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/mime"
)

var draftSeeds = []string{
	`{"mailboxIds":{"F1":true},"subject":"hi","textBody":[{"partId":"t"}],"bodyValues":{"t":{"value":"x\ny"}}}`,
	`{"mailboxIds":{"F1":true},"from":[{"name":"Zoë, \"Z\"","email":"z@example.org"}],"to":[{"email":"a@b"}],` +
		`"subject":"Grüße\r\nBcc: evil","header:X-A:asText":"=?utf-8?q?x?=","header:List-Post:asURLs":["mailto:l@x"],` +
		`"header:X-G:asGroupedAddresses":[{"name":"team","addresses":[{"name":null,"email":"t@x"}]},{"name":null,"addresses":[]}],` +
		`"messageId":["a@b"],"references":["r1@x","r2@x"],"sentAt":"2024-01-31T12:00:00+01:00",` +
		`"textBody":[{"partId":"t"}],"htmlBody":[{"partId":"h"}],"attachments":[{"blobId":"B1","type":"image/png","disposition":"inline","cid":"c1@x"},` +
		`{"blobId":"P2_1","type":"message/rfc822","name":"fwd.eml"},{"blobId":"B3","type":"text/plain","charset":"iso-8859-1","language":["en","de"]}],` +
		`"bodyValues":{"t":{"value":"` + strings.Repeat("long line ", 200) + `"},"h":{"value":"<p>\u00e9</p>"}}}`,
	`{"mailboxIds":{"F1":true},"bodyStructure":{"type":"multipart/mixed","subParts":[{"type":"multipart/alternative",` +
		`"subParts":[{"partId":"a"},{"partId":"b","type":"text/html","header:X-P":" raw\r\n folded"}]},{"blobId":"B9","location":"http://x/y"}]},` +
		`"bodyValues":{"a":{"value":"--=_mr boundary-looking line\n.\n"},"b":{"value":"\u0000\u00ff"}}}`,
	`{"mailboxIds":{"F1":true},"header:X-All:all":["a","b"],"header:Subject:asText":"` + strings.Repeat("x", 1200) + `"}`,
}

// FuzzDraft builds messages from random Email objects: parseDraft must
// refuse or accept without panicking, and whatever it accepts must be
// written as MIME that both our scanner and go-message read, with a
// header in which every line is a field or a continuation of one.
func FuzzDraft(f *testing.F) {
	for _, s := range draftSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, serr := parseDraft(in, time.Unix(1700000000, 0), "example.test", func() string { return "fixed" })
		if serr != nil {
			if serr.Type == "" {
				t.Fatal("a SetError without a type")
			}
			return
		}
		var buf bytes.Buffer
		open := func(id string) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("blob " + id + "\x00\xff\r\nsecond line\n")), nil
		}
		if err := d.write(&buf, open, nil); err != nil {
			t.Fatalf("write: %v", err)
		}
		raw := buf.Bytes()
		if err := checkHeader(raw); err != nil {
			t.Fatalf("%v\n%q", err, raw)
		}
		if _, err := mime.Scan(bytes.NewReader(raw), mime.Limits{}); err != nil {
			t.Fatalf("scan: %v", err)
		}
		e, err := message.Read(bytes.NewReader(raw))
		if err != nil && !message.IsUnknownCharset(err) {
			t.Fatalf("go-message: %v\n%q", err, raw)
		}
		err = e.Walk(func(path []int, p *message.Entity, err error) error {
			if err != nil {
				return err
			}
			if p.MultipartReader() == nil {
				_, err = io.Copy(io.Discard, p.Body)
			}
			return err
		})
		if err != nil && !message.IsUnknownCharset(err) {
			t.Fatalf("go-message walk: %v\n%q", err, raw)
		}
	})
}

// checkHeader: each line of the top-level header ends in CRLF and is a
// "Name:" field start or a folded continuation (starting with WSP).
func checkHeader(raw []byte) error {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return errors.New("no end of header")
	}
	for i, line := range strings.Split(string(raw[:end]), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			return fmt.Errorf("bare CR or LF in header line %d", i)
		}
		if line == "" {
			return fmt.Errorf("empty header line %d", i)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if i == 0 || strings.TrimSpace(line) == "" {
				return fmt.Errorf("bad continuation at line %d: %q", i, line)
			}
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return fmt.Errorf("line %d is no field: %q", i, line)
		}
	}
	return nil
}

// TestDraftSeedsAccepted: the seeds are valid creations, so the fuzzer
// starts from messages that get written.
func TestDraftSeedsAccepted(t *testing.T) {
	for i, s := range draftSeeds {
		if _, serr := parseDraft([]byte(s), time.Now(), "example.test", randomID); serr != nil {
			t.Errorf("seed %d: %v %v", i, serr, serr.Properties)
		}
	}
}

// FuzzHeaderRoundTrip: a subject and a display name, encoded and folded
// as Email/set create writes them, read back by Email/get's parser
// (emailprops) are what the client gave, less control characters.
func FuzzHeaderRoundTrip(f *testing.F) {
	for _, s := range []string{"hello", "Grüße aus Köln", "=?utf-8?q?x?=", "a\r\nBcc: x", "  lead", `say "hi", <you>`, strings.Repeat("ü", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.TrimSpace(norm.NFC.String(cleanText(s)))
		var b strings.Builder
		foldField(&b, field{name: "Subject", value: encodeText(s)})
		value := strings.TrimSuffix(strings.TrimPrefix(b.String(), "Subject:"), "\r\n")
		if got, _ := emailprops.Parse(value, emailprops.FormText).(string); strings.TrimSpace(got) != want {
			t.Errorf("subject %q: got %q, want %q (%q)", s, got, want, value)
		}
		if want == "" {
			return
		}
		name := s
		addr, err := encodeAddresses([]emailprops.EmailAddress{{Name: &name, Email: "a@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		got := emailprops.Parse(" "+addr, emailprops.FormAddresses).([]emailprops.EmailAddress)
		if len(got) != 1 || got[0].Email != "a@example.org" || got[0].Name == nil || *got[0].Name != norm.NFC.String(strings.TrimSpace(cleanText(s))) {
			t.Errorf("name %q: %q gives %+v", s, addr, got)
		}
	})
}
