package imap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// imapString writes s as a quoted string, or as a LITERAL+ literal when
// quoting cannot carry it.
func imapString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c < 0x20 || c == '"' || c == '\\' {
			return fmt.Sprintf("{%d+}\r\n%s", len(s), s)
		}
	}
	return `"` + s + `"`
}

// searchLine runs UID SEARCH and returns the UIDs.
func (x *raw) uidSearch(criteria string) string {
	x.T.Helper()
	lines := x.cmd("s", "UID SEARCH "+criteria, "OK")
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
			return strings.TrimSpace(rest)
		}
	}
	x.T.Fatalf("UID SEARCH %s: no SEARCH response in %q", criteria, lines)
	return ""
}

// ftsQueries are the criteria compared; %s marks a string argument.
var ftsQueries = []struct {
	format string
	args   []string
}{
	{"TEXT %s", []string{"budget"}},
	{"TEXT %s", []string{"BUDGET"}},
	{"BODY %s", []string{"the last quarter"}},
	{"BODY %s", []string{"Köln"}},
	{"BODY %s", []string{"KÖLN"}},
	{"BODY %s", []string{"koln"}},
	{"BODY %s", []string{"straße"}},
	{"BODY %s", []string{"東京"}},
	{"BODY %s", []string{"京"}},
	{"TEXT %s", []string{"会議"}},
	{"BODY %s", []string{"下午三点"}},
	{"BODY %s", []string{"Москве"}},
	{"BODY %s", []string{"москве"}},
	{"BODY %s", []string{"à bientôt"}},
	{"BODY %s", []string{"HÉLÈNE"}},
	{"BODY %s", []string{"ǆemal"}},
	{"BODY %s", []string{"k"}},
	{"BODY %s", []string{"kelvin sign k"}},
	{"BODY %s", []string{"secret-binary-word"}},
	{"BODY %s", []string{"report-"}},
	{"TEXT %s", []string{"notes.txt"}},
	{"BODY %s", []string{"hidden-header-value"}},
	{"BODY %s", []string{"inner subject"}},
	{"TEXT %s", []string{"x-inner: hidden"}},
	{"TEXT %s", []string{"rückfrage"}},
	{"BODY %s", []string{"<b>"}},
	{"BODY %s", []string{"12%"}},
	{"BODY %s", []string{"a_b"}},
	{"BODY %s", []string{"bien, merci"}},
	{"BODY %s", []string{"schön,"}},
	{"BODY %s", []string{"Grüße von Jörg!\r\nÇa"}},
	{"SUBJECT %s", []string{"köln"}},
	{"SUBJECT %s", []string{"会"}},
	{"SUBJECT %s", []string{"grüße"}},
	{"FROM %s", []string{"jörg"}},
	{"FROM %s", []string{"JOERG@EXAMPLE.DE"}},
	{"FROM %s", []string{"王小明 <wang@"}},
	{"FROM %s", []string{"example"}},
	{"TO %s", []string{"山田"}},
	{"CC %s", []string{"helene@"}},
	{"BCC %s", []string{"alice"}},
	{"FROM %s", []string{""}},
	{"HEADER %s %s", []string{"X-Project", "phoenix-3"}},
	{"HEADER %s %s", []string{"Message-ID", "m17@"}},
	{"HEADER %s %s", []string{"Delivered-To", "fts@"}},
	{"HEADER %s %s", []string{"X-Project", ""}},
	{"TEXT %s", []string{"delivered-to: fts"}},
	{"TEXT %s", []string{"fts@example.test"}},
	{"TEXT %s", []string{"Subject: "}},
	{"TEXT %s", []string{"x-ray"}},
	{"NOT TEXT %s", []string{"budget"}},
	{"OR BODY %s SUBJECT %s", []string{"Phoenix", "Привет"}},
	{"BODY %s BODY %s", []string{"東京", "会議"}},
	{"NOT BODY %s SEEN", []string{"paris"}},
	{"TEXT %s UID 1:100", []string{"merci"}},
	{"OR NOT FROM %s TEXT %s", []string{"yamada", "Ω"}},
	{"TEXT %s", []string{"nothing-matches-this"}},
	{"CHARSET ISO-8859-1 BODY %s", []string{"K\xf6ln"}},
	// Words only in MIME part headers (ftsPartHeaderMsgs): TEXT, not BODY.
	{"TEXT %s", []string{"kostenvoranschlag"}},
	{"BODY %s", []string{"kostenvoranschlag"}},
	{"TEXT %s", []string{"Kostenvoranschlag Grünwald.pdf"}},
	{"TEXT %s", []string{"kalkulation für köln"}},
	{"TEXT %s", []string{"baustellenfoto 東京"}},
	{"BODY %s", []string{"baustellenfoto"}},
	{"TEXT %s", []string{"content-disposition: attachment"}},
	{"TEXT %s", []string{"report-17.pdf"}},
	{"NOT TEXT %s", []string{"baustellenfoto"}},
	{"SUBJECT %s", []string{"kostenvoranschlag"}},
	{"HEADER %s %s", []string{"Content-Disposition", "attachment"}},
}

// TestSearchIndexMatchesEvaluator fills two mailboxes with the same
// varied corpus: INBOX through the mailbox service (indexed at
// delivery), Plain straight through the store (not indexed: SEARCH reads
// the messages, as before the index). Every query must answer the same
// UIDs in both.
func TestSearchIndexMatchesEvaluator(t *testing.T) {
	r := newRig(t)
	acct := r.Account("fts@example.test")
	ctx := context.Background()
	inbox := r.Mailbox(acct, "INBOX")
	plain, err := r.Store.CreateMailbox(ctx, acct.ID, "Plain", "")
	if err != nil {
		t.Fatal(err)
	}
	svc := r.Server.Deps().Mailboxes
	corpus := ftsCorpus(t, 240)
	for i, raw := range corpus {
		var prefix []byte
		if i%3 == 0 {
			prefix = []byte("Delivered-To: fts@example.test\r\n")
		}
		m, err := r.Store.Stage(ctx, strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Append(ctx, m, []store.Target{{MailboxID: inbox.ID, HeaderPrefix: prefix}}); err != nil {
			t.Fatal(err)
		}
		r.DeliverInto(store.Target{MailboxID: plain.ID, HeaderPrefix: prefix}, raw)
	}
	// Every INBOX message is indexed; no Plain one is.
	res, err := r.Store.SearchText(ctx, inbox.ID, []store.TextQuery{{Field: store.TextBody, Needle: "X"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unindexed)+len(res.BodyUnindexed) != 0 {
		t.Fatalf("INBOX has unindexed messages: %v %v", res.Unindexed, res.BodyUnindexed)
	}
	if un, err := r.Store.UnindexedContents(ctx, acct.ID, 0, 1000); err != nil || len(un) != len(corpus) {
		t.Fatalf("unindexed contents: %d (%v), want the %d of Plain", len(un), err, len(corpus))
	}

	x := r.raw(true)
	x.cmd("l", "LOGIN fts@example.test "+imapString(password), "OK")
	answers := map[string][2]string{}
	for j, box := range []string{"INBOX", "Plain"} {
		x.cmd("sel", "SELECT "+box, "OK")
		for _, q := range ftsQueries {
			args := make([]any, len(q.args))
			for i, a := range q.args {
				args[i] = imapString(a)
			}
			crit := fmt.Sprintf(q.format, args...)
			a := answers[crit]
			a[j] = x.uidSearch(crit)
			answers[crit] = a
		}
	}
	nonEmpty := 0
	for _, q := range ftsQueries {
		args := make([]any, len(q.args))
		for i, a := range q.args {
			args[i] = imapString(a)
		}
		crit := fmt.Sprintf(q.format, args...)
		a := answers[crit]
		if a[0] != a[1] {
			t.Errorf("UID SEARCH %q:\n index:     %s\n evaluator: %s", crit, a[0], a[1])
		}
		if a[0] != "" {
			nonEmpty++
		}
	}
	if nonEmpty < len(ftsQueries)*3/4 {
		t.Errorf("only %d of %d queries found anything: the corpus does not exercise them", nonEmpty, len(ftsQueries))
	}
	if !slices.ContainsFunc(ftsQueries, func(q struct {
		format string
		args   []string
	}) bool {
		return strings.HasPrefix(q.format, "TEXT")
	}) {
		t.Fatal("no TEXT query")
	}
}

// TestSearchHugeCriteria: a 1 MB search string and a query of 100,000
// terms get a quick, clear answer, with the index in use.
func TestSearchHugeCriteria(t *testing.T) {
	r := newRig(t)
	acct := r.Account("fts@example.test")
	ctx := context.Background()
	inbox := r.Mailbox(acct, "INBOX")
	svc := r.Server.Deps().Mailboxes
	for _, raw := range ftsCorpus(t, 100) {
		m, err := r.Store.Stage(ctx, strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Append(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	x := r.raw(true)
	x.cmd("l", "LOGIN fts@example.test "+imapString(password), "OK")
	x.cmd("sel", "SELECT INBOX", "OK")

	// send sends a command and returns its tagged reply.
	send := func(cmd string) string {
		x.Send("big " + cmd)
		for {
			if l := x.Line(); strings.HasPrefix(l, "big ") {
				return l
			}
		}
	}
	// A 1 MB search string is refused at once: search strings are
	// literals of at most 64 KiB (the decoder's bound).
	big := strings.Repeat("budget ", (1<<20)/7)
	if got := send(fmt.Sprintf("UID SEARCH TEXT {%d+}\r\n%s", len(big), big)); !strings.HasPrefix(got, "big NO [TOOBIG]") {
		t.Errorf("1 MB search string: %.80q", got)
	}
	// The largest accepted one goes through the index: its first 64
	// characters are in many messages, the rest decides.
	start := time.Now()
	big = big[:60000]
	for _, key := range []string{"TEXT", "BODY"} {
		if got := send(fmt.Sprintf("UID SEARCH %s {%d+}\r\n%s", key, len(big), big)); got != "big OK UID SEARCH completed" && !strings.HasPrefix(got, "big OK") {
			t.Errorf("60 KB search string: %.80q", got)
		}
	}
	t.Logf("60 KB search strings: %v", time.Since(start))

	for _, op := range []string{"TEXT", "OR TEXT w0 TEXT"} {
		start = time.Now()
		var b strings.Builder
		for i := range 100000 {
			// Literals, so that no line is over the line limit.
			w := fmt.Sprintf("w%d", i)
			fmt.Fprintf(&b, " %s {%d+}\r\n%s", op, len(w), w)
		}
		reply := send("UID SEARCH" + b.String())
		if !strings.HasPrefix(reply, "big OK") && !strings.HasPrefix(reply, "big BAD") && !strings.HasPrefix(reply, "big NO") {
			t.Errorf("100,000 %s terms: %q", op, reply)
		}
		t.Logf("100,000 %s terms: %v, %.60s", op, time.Since(start), reply)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("100,000 %s terms took %v", op, d)
		}
	}
	// As many terms as a command holds (some 5,000): answered, quickly.
	for _, op := range []string{"TEXT", "OR TEXT budget TEXT"} {
		start = time.Now()
		var b strings.Builder
		for i := 0; b.Len() < 60000; i++ {
			fmt.Fprintf(&b, " %s w%d", op, i)
		}
		if reply := send("UID SEARCH" + b.String()); !strings.HasPrefix(reply, "big OK") {
			t.Errorf("many %s terms: %.80q", op, reply)
		}
		t.Logf("%d bytes of %s terms: %v", b.Len(), op, time.Since(start))
	}
	x.cmd("n", "NOOP", "OK") // the session survives
}

// TestSearchTextPartHeaders: a word only in attachment names (MIME part
// headers, RFC 2231 and RFC 2047 decoded) is found by TEXT and not by
// BODY (RFC 9051 6.4.4), with the index (INBOX) and without (Plain).
func TestSearchTextPartHeaders(t *testing.T) {
	r := newRig(t)
	acct := r.Account("fts@example.test")
	ctx := context.Background()
	inbox := r.Mailbox(acct, "INBOX")
	plain, err := r.Store.CreateMailbox(ctx, acct.ID, "Plain", "")
	if err != nil {
		t.Fatal(err)
	}
	svc := r.Server.Deps().Mailboxes
	msgs := append([]string{"From: b@example.org\r\nSubject: nothing\r\n\r\nno attachment here\r\n"}, ftsPartHeaderMsgs...)
	for _, raw := range msgs {
		m, err := r.Store.Stage(ctx, strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Append(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
			t.Fatal(err)
		}
		r.DeliverInto(store.Target{MailboxID: plain.ID}, raw)
	}
	x := r.raw(true)
	x.cmd("l", "LOGIN fts@example.test "+imapString(password), "OK")
	for _, box := range []string{"INBOX", "Plain"} {
		x.cmd("sel", "SELECT "+box, "OK")
		for _, c := range []struct{ crit, want string }{
			{"TEXT kostenvoranschlag", "2 3"},
			{"TEXT " + imapString("Kostenvoranschlag Grünwald"), "3"},
			{"TEXT " + imapString("für köln.xls"), "4"},
			{"TEXT " + imapString("BAUSTELLENFOTO 東京"), "5"},
			{"BODY kostenvoranschlag", ""},
			{"BODY baustellenfoto", ""},
			{"SUBJECT kostenvoranschlag", ""},
			{"HEADER Content-Disposition attachment", ""},
			{"NOT TEXT kostenvoranschlag", "1 4 5"},
		} {
			if got := x.uidSearch(c.crit); got != c.want {
				t.Errorf("%s: UID SEARCH %s = %q, want %q", box, c.crit, got, c.want)
			}
		}
	}
}
