package delivery_test

// Forwarding and vacation notices, against the real store and the real
// outbound queue (not run: what it holds is what would be sent).

import (
	"context"
	"io"
	"log/slog"
	stdmime "mime"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/delivery"
	"mailroom/internal/queue"
	"mailroom/internal/sieverules"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
)

type rig struct {
	t     *testing.T
	dir   string
	st    store.Store
	agent *delivery.Agent
	now   time.Time
}

var cheapCred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

// newRig makes example.test with ann, bob and cat, and an agent with an
// outbound queue unless noQueue.
func newRig(t *testing.T, noQueue bool) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{t: t, dir: t.TempDir(), now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: r.dir, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = st
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ann@example.test", "bob@example.test", "cat@example.test"} {
		if _, err := st.CreateAccount(ctx, a, cheapCred); err != nil {
			t.Fatal(err)
		}
	}
	cfg := delivery.Config{
		PlusSeparator: "+",
		Hostname:      "mail.example.test",
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           func() time.Time { return r.now },
	}
	if !noQueue {
		q := queue.New(queue.Options{Store: st, Hostname: "mail.example.test"})
		cfg.Outbound = q
		r.agent = delivery.New(st, cfg)
		q.SetReturner(r.agent)
	} else {
		r.agent = delivery.New(st, cfg)
	}
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// set changes settings of an account: "key=value"... The forward.* and
// vacation.* settings of before Sieve then become the account's managed
// script, written from all its settings as the upgrade's migration writes
// it (sieverules.MigrateSettings), so these tests prove that forwarding
// and vacation notices behave as they did.
func (r *rig) set(email string, kvs ...string) {
	r.t.Helper()
	ctx := context.Background()
	acct, err := r.st.Account(ctx, email)
	if err != nil {
		r.t.Fatal(err)
	}
	values := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		values[k] = v
	}
	if err := r.st.SetSettings(ctx, acct.ID, values); err != nil {
		r.t.Fatal(err)
	}
	s, err := r.st.Settings(ctx, acct.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	rules := sieverules.Rules{Vacation: sieverules.VacationFromSettings(s)}
	if to := s.Addresses("forward.to"); len(to) > 0 {
		rules.Forwarding = sieverules.Forwarding{To: to, Keep: s.Bool("forward.keep")}
	}
	if _, err := sieverules.Save(ctx, r.st, acct.ID, rules); err != nil {
		r.t.Fatal(err)
	}
}

// deliver resolves rcpts as port 25 would and delivers raw from "from".
func (r *rig) deliver(from, raw string, rcpts ...string) {
	r.t.Helper()
	if err := r.try(from, raw, rcpts...); err != nil {
		r.t.Fatalf("Deliver: %v", err)
	}
}

// try is deliver returning Deliver's error.
func (r *rig) try(from, raw string, rcpts ...string) error {
	r.t.Helper()
	ctx := context.Background()
	env := delivery.Envelope{From: from}
	for _, rc := range rcpts {
		res, err := r.agent.Resolve(ctx, rc, false)
		if err != nil {
			r.t.Fatalf("Resolve(%s): %v", rc, err)
		}
		env.Recipients = append(env.Recipients, delivery.Recipient{Address: rc, Resolved: res})
	}
	m, err := r.st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.t.Fatal(err)
	}
	defer m.Discard()
	return r.agent.Deliver(ctx, m, env)
}

func (r *rig) inbox(email string) []string {
	r.t.Helper()
	ctx := context.Background()
	acct, err := r.st.Account(ctx, email)
	if err != nil {
		r.t.Fatal(err)
	}
	mb, err := r.st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		r.t.Fatal(err)
	}
	list, err := r.st.MessageList(ctx, mb.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		b, err := r.st.OpenBody(ctx, mb.ID, m.UID)
		if err != nil {
			r.t.Fatal(err)
		}
		data, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		out = append(out, string(data))
	}
	return out
}

type queued struct {
	from string
	to   []string
	body string
}

// queued returns what waits in the outbound queue.
func (r *rig) queued() []queued {
	r.t.Helper()
	ctx := context.Background()
	list, err := r.st.QueuedMessages(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []queued
	for _, m := range list {
		q := queued{from: m.From}
		for _, rc := range m.Recipients {
			q.to = append(q.to, rc.Address)
		}
		b, err := r.st.OpenQueued(ctx, m.ID)
		if err != nil {
			r.t.Fatal(err)
		}
		data, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		q.body = string(data)
		out = append(out, q)
	}
	return out
}

func message(from, to, subject, extra string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: Wed, 01 Jul 2026 11:00:00 +0000\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@remote.example>\r\n" + extra + "\r\nHello.\r\n"
}

func counts(r *rig, emails ...string) []int {
	var out []int
	for _, e := range emails {
		out = append(out, len(r.inbox(e)))
	}
	return out
}

func TestForwardToLocalAccount(t *testing.T) {
	r := newRig(t, false)
	r.set("ann@example.test", "forward.to=Bob@Example.test")
	raw := message("x@remote.example", "ann@example.test", "fwd", "")
	r.deliver("x@remote.example", raw, "ann@example.test")

	if got := r.inbox("ann@example.test"); len(got) != 1 || got[0] != "Return-Path: <x@remote.example>\r\nDelivered-To: ann@example.test\r\n"+raw {
		t.Fatalf("ann's copy: %q", got)
	}
	want := "Return-Path: <x@remote.example>\r\nDelivered-To: bob@example.test\r\nDelivered-To: ann@example.test\r\n" + raw
	if got := r.inbox("bob@example.test"); len(got) != 1 || got[0] != want {
		t.Fatalf("bob's forwarded copy:\n%q\nwant\n%q", got, want)
	}
	if q := r.queued(); len(q) != 0 {
		t.Fatalf("a local forward was queued: %+v", q)
	}

	// forward.keep=false: the INBOX stays empty.
	r.set("ann@example.test", "forward.keep=false")
	r.deliver("x@remote.example", raw, "ann@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test"); !slices.Equal(n, []int{1, 2}) {
		t.Fatalf("with forward.keep=false ann, bob have %v messages, want [1 2]", n)
	}
	// Addressed to both: bob still gets one copy.
	r.deliver("x@remote.example", raw, "ann@example.test", "bob@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test"); !slices.Equal(n, []int{1, 3}) {
		t.Fatalf("to ann and bob: %v messages, want [1 3]", n)
	}
}

func TestForwardToRemoteAddress(t *testing.T) {
	r := newRig(t, false)
	r.set("ann@example.test", "forward.to=friend@elsewhere.example, cat@example.test", "forward.keep=false")
	raw := message("x@remote.example", "ann@example.test", "away", "")
	r.deliver("x@remote.example", raw, "ann+tag@example.test")

	if got := r.inbox("ann@example.test"); len(got) != 0 {
		t.Fatalf("forward.keep=false, but ann has %d messages", len(got))
	}
	if got := r.inbox("cat@example.test"); len(got) != 1 {
		t.Fatalf("cat has %d messages, want the local forward", len(got))
	}
	q := r.queued()
	if len(q) != 1 {
		t.Fatalf("queue: %+v, want one forwarded copy", q)
	}
	// The copy is sent from the forwarding account (the receiver's SPF
	// check sees this server sending for its own domain), and says whom
	// it was forwarded for, so that it is recognised if it ever comes back.
	if q[0].from != "ann@example.test" || !slices.Equal(q[0].to, []string{"friend@elsewhere.example"}) ||
		q[0].body != "Delivered-To: ann@example.test\r\n"+raw {
		t.Fatalf("queued forward: from %q to %q body\n%q", q[0].from, q[0].to, q[0].body)
	}
	list, _ := r.st.QueuedMessages(context.Background())
	if o := list[0].Recipients[0].ORcpt; o != "rfc822;ann+tag@example.test" {
		t.Fatalf("ORCPT of the forward %q, want the address the sender used", o)
	}

	// Without an outbound queue, the account keeps what it cannot forward.
	r2 := newRig(t, true)
	r2.set("ann@example.test", "forward.to=friend@elsewhere.example", "forward.keep=false")
	r2.deliver("x@remote.example", raw, "ann@example.test")
	if got := r2.inbox("ann@example.test"); len(got) != 1 {
		t.Fatalf("no queue: ann has %d messages, want 1 kept", len(got))
	}
}

func TestForwardLoops(t *testing.T) {
	r := newRig(t, false)
	raw := message("x@remote.example", "ann@example.test", "loop", "")
	// A forwards to B, B to A, both keeping a copy: one copy each.
	r.set("ann@example.test", "forward.to=bob@example.test")
	r.set("bob@example.test", "forward.to=ann@example.test")
	r.deliver("x@remote.example", raw, "ann@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test"); !slices.Equal(n, []int{1, 1}) {
		t.Fatalf("A<->B keeping copies: %v messages, want one each", n)
	}
	r.deliver("x@remote.example", raw, "bob@example.test", "ann@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test"); !slices.Equal(n, []int{2, 2}) {
		t.Fatalf("A<->B, to both: %v messages, want two each", n)
	}

	// Neither keeping a copy: the loop ends where it would start again,
	// and the message is not lost.
	r.set("ann@example.test", "forward.keep=false")
	r.set("bob@example.test", "forward.keep=false")
	r.deliver("x@remote.example", raw, "ann@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test"); !slices.Equal(n, []int{2, 3}) {
		t.Fatalf("A<->B not keeping: %v messages, want [2 3] (bob keeps it)", n)
	}

	// Through an alias and a longer ring: A -> team (B, C), C -> A.
	r.set("bob@example.test", "forward.to=", "forward.keep=true")
	if err := r.st.AddAlias(context.Background(), "team@example.test", []string{"bob@example.test", "cat@example.test"}); err != nil {
		t.Fatal(err)
	}
	r.set("ann@example.test", "forward.to=team@example.test", "forward.keep=true")
	r.set("cat@example.test", "forward.to=ann@example.test")
	r.deliver("x@remote.example", raw, "cat@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test", "cat@example.test"); !slices.Equal(n, []int{3, 4, 1}) {
		t.Fatalf("ring through an alias: %v messages, want [3 4 1]", n)
	}
	if q := r.queued(); len(q) != 0 {
		t.Fatalf("local loops queued %+v", q)
	}
}

// TestForwardNotTwice: a message that already carries the account's
// Delivered-To (it went out through a forward and came back) is kept,
// not forwarded again.
func TestForwardNotTwice(t *testing.T) {
	r := newRig(t, false)
	r.set("ann@example.test", "forward.to=friend@elsewhere.example", "forward.keep=false")
	raw := "Delivered-To: friend@elsewhere.example\r\nDelivered-To: ANN@example.test\r\n" + message("x@remote.example", "ann@example.test", "back", "")
	r.deliver("x@remote.example", raw, "ann@example.test")
	if q := r.queued(); len(q) != 0 {
		t.Fatalf("forwarded again: %+v", q)
	}
	if got := r.inbox("ann@example.test"); len(got) != 1 {
		t.Fatalf("ann has %d messages, want the one that came back", len(got))
	}
}

// TestSettingsChangesApplyAtOnce: the agent caches the compiled script,
// but a change takes effect for the next message, made here or by another
// process on the same data (ManageSieve on another node, an admin
// command).
func TestSettingsChangesApplyAtOnce(t *testing.T) {
	r := newRig(t, false)
	raw := message("x@remote.example", "ann@example.test", "cache", "")
	r.deliver("x@remote.example", raw, "ann@example.test") // caches "no forwarding"
	r.set("ann@example.test", "forward.to=bob@example.test")
	r.deliver("x@remote.example", raw, "ann@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test"); !slices.Equal(n, []int{2, 1}) {
		t.Fatalf("after switching forwarding on: %v messages, want [2 1]", n)
	}

	other, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: r.dir})
	if err != nil {
		t.Fatal(err)
	}
	ann, _ := other.Account(context.Background(), "ann@example.test")
	if _, err := sieverules.Save(context.Background(), other, ann.ID, sieverules.Rules{}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	deadline := time.Now().Add(5 * time.Second)
	for want := 2; ; want++ {
		r.deliver("x@remote.example", raw, "ann@example.test")
		if n := len(r.inbox("bob@example.test")); n < want {
			break // not forwarded: the change arrived
		}
		if time.Now().After(deadline) {
			t.Fatal("a change made by another process never took effect")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// notices returns the vacation notices queued for (remote) senders.
func notices(r *rig) []*mail.Message {
	r.t.Helper()
	var out []*mail.Message
	for _, q := range r.queued() {
		m, err := mail.ReadMessage(strings.NewReader(q.body))
		if err != nil {
			r.t.Fatalf("queued message does not parse: %v\n%s", err, q.body)
		}
		if q.from != "" {
			r.t.Fatalf("a notice from %q, want the null sender", q.from)
		}
		out = append(out, m)
	}
	return out
}

func TestVacationNotice(t *testing.T) {
	r := newRig(t, false)
	r.set("ann@example.test", "vacation.enabled=true", "vacation.subject=Away until Monday — back soon",
		"vacation.body=I am away.\nYour mail will wait for me: ça ira.\n")
	raw := message("Carol <carol@remote.example>", "Ann <ann@example.test>", "question", "References: <older@remote.example>\r\n")
	r.deliver("carol@remote.example", raw, "ann@example.test")
	if got := r.inbox("ann@example.test"); len(got) != 1 {
		t.Fatalf("the message itself: %d copies", len(got))
	}
	ns := notices(r)
	if len(ns) != 1 {
		t.Fatalf("%d notices, want 1", len(ns))
	}
	q := r.queued()[0]
	if !slices.Equal(q.to, []string{"carol@remote.example"}) {
		t.Fatalf("notice sent to %q", q.to)
	}
	h := ns[0].Header
	subject, err := new(stdmime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"From":                      "ann@example.test",
		"To":                        "<carol@remote.example>",
		"Auto-Submitted":            "auto-replied",
		"In-Reply-To":               "<question@remote.example>",
		"References":                "<older@remote.example> <question@remote.example>",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"MIME-Version":              "1.0",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if subject != "Away until Monday — back soon" {
		t.Errorf("Subject %q (raw %q)", subject, h.Get("Subject"))
	}
	if d, err := h.Date(); err != nil || !d.Equal(r.now) {
		t.Errorf("Date %q: %v %v", h.Get("Date"), d, err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@mail.example.test>") {
		t.Errorf("Message-ID %q", id)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(ns[0].Body))
	if err != nil || string(body) != "I am away.\r\nYour mail will wait for me: ça ira.\r\n" {
		t.Errorf("body %q %v", body, err)
	}
	if strings.ContainsFunc(q.body, func(r rune) bool { return r > 127 }) {
		t.Errorf("the notice is not 7-bit:\n%s", q.body)
	}

	// Once per sender per interval (7 days by default).
	r.now = r.now.Add(24 * time.Hour)
	r.deliver("carol@remote.example", raw, "ann@example.test")
	r.deliver("Carol@Remote.Example", raw, "ann@example.test")
	if n := len(notices(r)); n != 1 {
		t.Fatalf("%d notices after two more messages within the interval, want 1", n)
	}
	r.deliver("dave@remote.example", message("dave@remote.example", "ann@example.test", "other", ""), "ann@example.test")
	if n := len(notices(r)); n != 2 {
		t.Fatalf("another sender: %d notices, want 2", n)
	}
	r.now = r.now.Add(6 * 24 * time.Hour)
	r.deliver("carol@remote.example", raw, "ann@example.test")
	if n := len(notices(r)); n != 3 {
		t.Fatalf("after 7 days: %d notices, want 3", n)
	}
	r.set("ann@example.test", "vacation.interval_days=1")
	r.now = r.now.Add(25 * time.Hour)
	r.deliver("carol@remote.example", raw, "ann@example.test")
	if n := len(notices(r)); n != 4 {
		t.Fatalf("interval_days=1, a day later: %d notices, want 4", n)
	}
}

func TestVacationNoticeLocalAndAuto(t *testing.T) {
	r := newRig(t, false)
	r.set("ann@example.test", "vacation.enabled=true", "vacation.subject=")
	// A local sender gets the notice in its INBOX; an empty subject setting
	// answers "Auto: " and the original subject, encoded.
	r.deliver("bob@example.test", message("bob@example.test", "ann@example.test", "Grüße", ""), "ann@example.test")
	got := r.inbox("bob@example.test")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages, want the notice", len(got))
	}
	m, err := mail.ReadMessage(strings.NewReader(got[0]))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := new(stdmime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); s != "Auto: Grüße" {
		t.Fatalf("Subject %q", m.Header.Get("Subject"))
	}
	if rp := m.Header.Get("Return-Path"); rp != "<>" {
		t.Fatalf("Return-Path %q, want the null sender", rp)
	}
	// The notice, from the null sender and auto-replied, is not answered
	// by bob's own vacation notice.
	r.set("bob@example.test", "vacation.enabled=true")
	r.now = r.now.Add(8 * 24 * time.Hour)
	r.deliver("bob@example.test", message("bob@example.test", "ann@example.test", "again", ""), "ann@example.test")
	if n := counts(r, "ann@example.test", "bob@example.test"); !slices.Equal(n, []int{2, 2}) {
		t.Fatalf("ann and bob on vacation: %v messages, want [2 2]", n)
	}
}

func TestVacationNoNotice(t *testing.T) {
	r := newRig(t, false)
	r.set("ann@example.test", "vacation.enabled=true", "vacation.from=1782900000", "vacation.until=1783000000") // 2026-07-01 10:00 .. 2026-07-02 13:46
	ok := message("carol@remote.example", "ann@example.test", "fine", "")
	cases := []struct{ name, from, raw, rcpt string }{
		{"null sender", "", ok, "ann@example.test"},
		{"MAILER-DAEMON", "MAILER-DAEMON@remote.example", ok, "ann@example.test"},
		{"postmaster", "postmaster@remote.example", ok, "ann@example.test"},
		{"noreply", "noreply@remote.example", ok, "ann@example.test"},
		{"list owner", "owner-list@remote.example", ok, "ann@example.test"},
		{"list request", "list-request@remote.example", ok, "ann@example.test"},
		{"Auto-Submitted", "c1@remote.example", message("c1@remote.example", "ann@example.test", "a", "Auto-Submitted: auto-generated\r\n"), "ann@example.test"},
		{"Auto-Submitted replied", "c2@remote.example", message("c2@remote.example", "ann@example.test", "a", "Auto-Submitted: Auto-Replied (vacation)\r\n"), "ann@example.test"},
		{"Precedence bulk", "c3@remote.example", message("c3@remote.example", "ann@example.test", "a", "Precedence: bulk\r\n"), "ann@example.test"},
		{"Precedence list", "c4@remote.example", message("c4@remote.example", "ann@example.test", "a", "Precedence: list\r\n"), "ann@example.test"},
		{"Precedence junk", "c5@remote.example", message("c5@remote.example", "ann@example.test", "a", "Precedence: junk\r\n"), "ann@example.test"},
		{"List-Id", "c6@remote.example", message("c6@remote.example", "ann@example.test", "a", "List-Id: Friends <friends.remote.example>\r\n"), "ann@example.test"},
		{"List-Unsubscribe", "c7@remote.example", message("c7@remote.example", "ann@example.test", "a", "List-Unsubscribe:\r\n <mailto:leave@remote.example>\r\n"), "ann@example.test"},
		{"Bcc", "c8@remote.example", message("c8@remote.example", "someone@remote.example", "a", "Cc: other@remote.example\r\n"), "ann@example.test"},
		{"report", "c9@remote.example", message("c9@remote.example", "ann@example.test", "a", "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n"), "ann@example.test"},
		{"suppressed", "c10@remote.example", message("c10@remote.example", "ann@example.test", "a", "X-Auto-Response-Suppress: OOF, AutoReply\r\n"), "ann@example.test"},
		{"own address", "ann@example.test", ok, "ann@example.test"},
	}
	for _, c := range cases {
		r.deliver(c.from, c.raw, c.rcpt)
		if n := len(r.queued()); n != 0 {
			t.Fatalf("%s: a notice was sent:\n%s", c.name, r.queued()[0].body)
		}
	}
	if n := len(r.inbox("ann@example.test")); n != len(cases) {
		t.Fatalf("ann has %d messages, want %d: no notice must stop a delivery", n, len(cases))
	}

	// Outside the vacation: the day before and the day after (the
	// migrated notice runs from its first to its last day).
	saved := r.now
	r.now = time.Unix(1782900000, 0).Add(-24 * time.Hour)
	r.deliver("carol@remote.example", ok, "ann@example.test")
	r.now = time.Unix(1783000000, 0).Add(24 * time.Hour)
	r.deliver("carol@remote.example", ok, "ann@example.test")
	if n := len(r.queued()); n != 0 {
		t.Fatalf("outside the vacation: %d notices", n)
	}
	// Within it, through a plus-address in Cc, and through an alias in To.
	r.now = saved
	r.deliver("carol@remote.example", message("carol@remote.example", "x@remote.example", "plus", "Cc: Ann <ANN+work@example.test>\r\n"), "ann+work@example.test")
	if err := r.st.AddAlias(context.Background(), "team@example.test", []string{"ann@example.test"}); err != nil {
		t.Fatal(err)
	}
	r.deliver("dave@remote.example", message("dave@remote.example", "team@example.test", "alias", ""), "team@example.test")
	if n := len(r.queued()); n != 2 {
		t.Fatalf("addressed by plus-address and alias: %d notices, want 2", n)
	}
	// Forwarded mail is not the forwardee's to answer: it is not in To.
	r.set("bob@example.test", "forward.to=ann@example.test")
	r.deliver("erin@remote.example", message("erin@remote.example", "bob@example.test", "fwd", ""), "bob@example.test")
	if n := len(r.queued()); n != 2 {
		t.Fatalf("a message forwarded to ann was answered (%d notices)", n)
	}
}

// countingStore counts the script queries the agent makes.
type countingStore struct {
	store.Store
	settings atomic.Int32
}

func (c *countingStore) ActiveSieveScript(ctx context.Context, accountID int64) (store.SieveScript, error) {
	c.settings.Add(1)
	return c.Store.ActiveSieveScript(ctx, accountID)
}

// TestNoSettingsQueryPerMessage: an account's script is read (and
// compiled) once, not for every message, until it changes.
func TestNoSettingsQueryPerMessage(t *testing.T) {
	r := newRig(t, false)
	cs := &countingStore{Store: r.st}
	r.agent = delivery.New(cs, delivery.Config{})
	raw := message("x@remote.example", "ann@example.test", "count", "")
	for range 5 {
		r.deliver("x@remote.example", raw, "ann@example.test", "bob@example.test")
	}
	if n := cs.settings.Load(); n != 2 {
		t.Fatalf("%d settings queries for 5 messages to 2 accounts, want 2", n)
	}
	r.set("ann@example.test", "vacation.subject=Away")
	r.deliver("x@remote.example", raw, "ann@example.test", "bob@example.test")
	if n := cs.settings.Load(); n != 3 {
		t.Fatalf("%d settings queries after ann's settings changed, want 3", n)
	}
}
