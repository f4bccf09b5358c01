package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// searchFixture delivers six messages over five folders, each received at
// noon (server time) of a known January 2026 day, and returns their
// subjects by folder for reference.
func (r *rig) searchFixture() {
	r.T.Helper()
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.Local) }
	put := func(folder string, d int, flags store.Flags, raw string) {
		r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, folder).ID, InternalDate: day(d), Flags: flags}, crlfText(raw))
	}
	put("INBOX", 10, 0, `From: Bob <bob@example.org>
To: ann@example.test
Cc: carol@example.net
Subject: Lunch on Friday

Shall we meet at noon?
`)
	put("INBOX", 20, store.FlagSeen|store.FlagFlagged, `From: Alice <alice@example.com>
To: ann@example.test
Subject: Quarterly report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

The numbers are attached.
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename=report.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b--
`)
	put("Archive", 15, store.FlagSeen, `From: bob@example.org
To: ann@example.test
Subject: Old photos

Remember the blue moon that night?
`)
	put("Junk", 25, 0, `From: Casino <win@casino.example>
To: ann@example.test
Subject: Lunch winner

You won a free lunch!
`)
	put("Sent", 30, store.FlagSeen, `From: Ann <ann@example.test>
To: Bob <bob@example.org>
Bcc: dave@example.org
Subject: Re: Lunch on Friday
Content-Type: text/plain; charset=utf-8

Yes, noon is fine. 日本語のテキストです。
`)
	put("Trash", 5, store.FlagSeen, `From: nobody@example.org
Subject: lunch deleted

gone
`)
}

func crlfText(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

var (
	resultRE = regexp.MustCompile(`<td class="subject"><a href="/msg/\d+/\d+">([^<]*)</a>`)
	folderRE = regexp.MustCompile(`<td class="folder"><a href="[^"]*">([^<]*)</a>`)
	countRE  = regexp.MustCompile(`data-live-part="counts">([^<]*)<`)
)

// results returns the subjects of a results page, in order, with the
// folder of each ("Subject@Folder"), and the count line.
func results(body string) ([]string, string) {
	subjects := resultRE.FindAllStringSubmatch(body, -1)
	folders := folderRE.FindAllStringSubmatch(body, -1)
	var out []string
	for i, s := range subjects {
		f := "?"
		if i < len(folders) {
			f = folders[i][1]
		}
		out = append(out, html.UnescapeString(s[1])+"@"+html.UnescapeString(f))
	}
	count := ""
	if m := countRE.FindStringSubmatch(body); m != nil {
		count = strings.TrimSpace(html.UnescapeString(m[1]))
	}
	return out, count
}

// TestSearchOperators: every operator of the search box, over HTTP, on
// the real server, against messages in several folders: the results, their
// order (newest first across folders), their folders and the count.
func TestSearchOperators(t *testing.T) {
	r := newRig(t)
	r.searchFixture()
	b := r.browser()
	b.login("ann@example.test")

	const (
		lunch   = "Lunch on Friday@INBOX"
		report  = "Quarterly report@INBOX"
		photos  = "Old photos@Archive"
		winner  = "Lunch winner@Junk"
		reply   = "Re: Lunch on Friday@Sent"
		deleted = "lunch deleted@Trash"
	)
	cases := []struct {
		q    string
		want []string
	}{
		// Plain words: sender, subject or text; all folders but Junk and Trash.
		{"lunch", []string{reply, lunch}},
		{"LUNCH friday", []string{reply, lunch}},
		{"noon", []string{reply, lunch}},
		{"bob", []string{reply, photos, lunch}},
		{"日本語", []string{reply}},
		{"", []string{reply, report, photos, lunch}},
		// Phrases.
		{`"blue moon"`, []string{photos}},
		{`"moon blue"`, nil},
		{`subject:"on friday"`, []string{reply, lunch}},
		// Header operators.
		{"from:bob", []string{photos, lunch}},
		{"from:bob@example.org", []string{photos, lunch}},
		{"to:bob", []string{reply}},
		{"cc:carol", []string{lunch}},
		{"bcc:dave", []string{reply}},
		{"subject:lunch", []string{reply, lunch}},
		{"subject:noon", nil},
		// Structure and flags.
		{"has:attachment", []string{report}},
		{"-has:attachment", []string{reply, photos, lunch}},
		{"is:unread", []string{lunch}},
		{"is:read", []string{reply, report, photos}},
		{"is:flagged", []string{report}},
		{"is:starred", []string{report}},
		// Dates: after: includes its day, before: excludes it.
		{"after:2026-01-15", []string{reply, report, photos}},
		{"before:2026-01-15", []string{lunch}},
		{"after:2026-01-15 before:2026-01-20", []string{photos}},
		{"after:2026/1/15 before:2026/1/21", []string{report, photos}},
		// Negation and OR.
		{"-from:bob", []string{reply, report}},
		{"lunch -subject:re", []string{lunch}},
		{"from:alice OR from:bob", []string{report, photos, lunch}},
		{"noon from:alice OR is:unread", []string{lunch}},
		// Folders.
		{"in:Archive", []string{photos}},
		{"in:archive", []string{photos}},
		{"lunch in:Junk", []string{winner}},
		{"lunch in:spam", []string{winner}},
		{"in:trash", []string{deleted}},
		{"lunch in:anywhere", []string{reply, winner, lunch, deleted}},
		{"in:Sent to:bob", []string{reply}},
		{"in:INBOX -is:unread", []string{report}},
	}
	for _, c := range cases {
		code, _, body := b.get("/search?q=" + url.QueryEscape(c.q))
		got, count := results(body)
		wantCount := fmt.Sprintf("%d results", len(c.want))
		if len(c.want) == 1 {
			wantCount = "1 result"
		}
		if code != http.StatusOK || !slices.Equal(got, c.want) || !strings.HasPrefix(count, wantCount+" ") {
			t.Errorf("search %q: %d %q\n got %q\nwant %q", c.q, code, count, got, c.want)
		}
	}
	// The scope is said.
	if _, _, body := b.get("/search?q=lunch"); !strings.Contains(body, "in all folders but Junk and Trash") {
		t.Error("the default scope is not shown")
	}
	if _, _, body := b.get("/search?q=in%3Ajunk"); !strings.Contains(body, "1 result in Junk") {
		t.Error("the in: scope is not shown")
	}
	// The search box keeps the query; the help lists the operators.
	_, _, body := b.get("/search?q=" + url.QueryEscape(`subject:"on friday"`))
	if !strings.Contains(body, `value="subject:&#34;on friday&#34;"`) {
		t.Error("the search box does not show the query")
	}
	for _, op := range []string{"from:", "to:", "subject:", "has:attachment", "is:unread", "is:flagged", "before:", "after:", "in:", "in:anywhere", "OR", "-from:bob", `"two words"`} {
		if !strings.Contains(body, op) {
			t.Errorf("the search help does not mention %s", op)
		}
	}
	// The paperclip in the results is has:attachment's rule.
	_, _, body = b.get("/search?q=" + url.QueryEscape("from:alice"))
	if !strings.Contains(body, `aria-label="has attachments"`) {
		t.Error("no paperclip on the message with an attachment")
	}
}

// TestSearchErrors: a query the user must fix says what is wrong, on the
// search page, with the help open; a huge query is refused at once.
func TestSearchErrors(t *testing.T) {
	r := newRig(t)
	r.searchFixture()
	b := r.browser()
	b.login("ann@example.test")
	cases := []struct{ q, want string }{
		{`"two words`, "A quote is not closed"},
		{"is:urgent", "is:urgent is not known"},
		{"has:pdf", "has:pdf is not known"},
		{"before:2026-13-40", "before:2026-13-40 is not a date"},
		{"after:yesterday", "after:yesterday is not a date"},
		{"in:Nowhere", "There is no folder Nowhere."},
		{"-in:Junk", "in: cannot be negated"},
		{"lunch OR", "OR needs a term on each side"},
	}
	for _, c := range cases {
		code, _, body := b.get("/search?q=" + url.QueryEscape(c.q))
		got, _ := results(body)
		if code != http.StatusOK || !strings.Contains(html.UnescapeString(body), c.want) || len(got) != 0 ||
			!strings.Contains(body, `<details class="searchhelp" open>`) {
			t.Errorf("search %q: %d, results %q, want the error %q", c.q, code, got, c.want)
		}
	}
	// 100,000 terms (200 KB) are refused, quickly.
	start := time.Now()
	code, _, body := b.get("/search?q=" + url.QueryEscape(strings.Repeat("w ", 100000)))
	if code != http.StatusOK || !strings.Contains(body, "The search is too long") {
		t.Errorf("100,000 terms: %d", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("100,000 terms took %v", d)
	}
}

// TestSearchPaging: 130 matches over two folders (and more in Junk, not
// counted) are counted in full and paged 50 at a time to the last page,
// newest first across the folders, each exactly once.
func TestSearchPaging(t *testing.T) {
	r := newRig(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local)
	var want []string
	// Message i is received i hours after start: INBOX gets most, every
	// tenth goes to Archive, and three to Junk that the default skips.
	for i := 0; i < 136; i++ {
		folder := "INBOX"
		switch {
		case i >= 133:
			folder = "Junk"
		case i%10 == 3:
			folder = "Archive"
		}
		subject := fmt.Sprintf("Paging test %03d", i)
		r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, folder).ID, InternalDate: start.Add(time.Duration(i) * time.Hour)},
			"From: bob@example.org\r\nSubject: "+subject+"\r\n\r\nbody\r\n")
		if folder != "Junk" {
			want = append(want, subject+"@"+folder)
		}
	}
	slices.Reverse(want)
	// Noise that does not match.
	r.Deliver(r.acct, "From: carol@example.net\r\nSubject: other\r\n\r\nx\r\n")

	b := r.browser()
	b.login("ann@example.test")
	var got []string
	path := "/search?q=" + url.QueryEscape("subject:paging")
	nextRE := regexp.MustCompile(`<a href="([^"]+)" rel="next">Older</a>`)
	for page := 1; ; page++ {
		code, _, body := b.get(path)
		items, count := results(body)
		if code != 200 || count != "133 results in all folders but Junk and Trash" {
			t.Fatalf("page %d: %d, count %q", page, code, count)
		}
		if !strings.Contains(body, fmt.Sprintf("Page %d of 3", page)) {
			t.Fatalf("page %d does not say it is page %d of 3", page, page)
		}
		wantLen := 50
		if page == 3 {
			wantLen = 33
		}
		if len(items) != wantLen {
			t.Fatalf("page %d has %d results, want %d", page, len(items), wantLen)
		}
		got = append(got, items...)
		m := nextRE.FindStringSubmatch(body)
		if m == nil {
			if page != 3 {
				t.Fatalf("no link to page %d", page+1)
			}
			break
		}
		path = html.UnescapeString(m[1])
		if page > 3 {
			t.Fatal("more than 3 pages")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the pages hold\n%q\nwant\n%q", got, want)
	}
	// Past the end: the last page.
	_, _, body := b.get("/search?q=" + url.QueryEscape("subject:paging") + "&page=99")
	if items, _ := results(body); len(items) != 33 || !strings.Contains(body, `rel="prev"`) {
		t.Fatalf("page 99 shows %d results", len(items))
	}
	// in:Junk finds the three the default left out.
	_, _, body = b.get("/search?q=" + url.QueryEscape("subject:paging in:Junk"))
	if items, count := results(body); len(items) != 3 || count != "3 results in Junk" {
		t.Fatalf("in:Junk: %q %q", items, count)
	}
}
