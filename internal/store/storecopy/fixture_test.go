package storecopy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/storetest"
)

var cheapParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// failure carries an unexpected error from must to the test's recover.
type failure struct{ err error }

// must returns v, or stops the test if err is not nil: Go cannot pass a
// (T, error) result alongside t, hence the panic that each test turns
// back into its failure with a deferred recoverFailure.
func must[T any](v T, err error) T {
	if err != nil {
		panic(failure{err})
	}
	return v
}

// must2 is must for two results.
func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(failure{err})
	}
	return a, b
}

func recoverFailure(t testing.TB) {
	if r := recover(); r != nil {
		f, isFailure := r.(failure)
		if !isFailure {
			panic(r)
		}
		t.Fatalf("unexpected error: %v", f.err)
	}
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// bigMessage is a message of about size bytes of base64-looking lines,
// far above the stores' inline limit, so that its body is a blob.
func bigMessage(subject string, size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: a@example.org\r\nTo: ann@example.test\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n", subject)
	line := make([]byte, 76)
	for b.Len() < size {
		for i := range line {
			line[i] = alphabet[rng.IntN(len(alphabet))]
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func deliver(t testing.TB, st store.Store, raw []byte, targets ...store.Target) []store.Delivered {
	t.Helper()
	ctx := context.Background()
	m := must(st.Stage(ctx, bytes.NewReader(raw)))
	return must(st.Deliver(ctx, m, targets))
}

// fixture is what fill made, for the checks that go beyond comparing
// snapshots.
type fixture struct {
	appPassword string
	accessToken string // ann's, used once
	inbox       int64  // ann's INBOX
	deletedBox  int64  // a mailbox id deleted on the source: never to be reused
	bigUID      uint32
	big         []byte
	uploads     []store.Upload // JMAP uploads: no listing in the API, so snapshot is told them
}

// fill makes a realistic installation through the store API: domains,
// accounts with settings, aliases and app passwords, mailboxes (one
// deleted), small and large messages with flags and keywords, copies
// sharing a body, expunged messages (QRESYNC history), POP3-hidden ones,
// a queued message, delegations, junk training, web sessions, vacation
// replies, DMARC rows, Sieve scripts (one active), duplicate-tracking
// records and JMAP uploads (a small one and one of several body pieces).
func fill(t testing.TB, st store.Store) fixture {
	t.Helper()
	ctx := context.Background()
	var fx fixture
	must(st.CreateDomain(ctx, "example.test"))
	must(st.CreateDomain(ctx, "example.net"))
	ann := must(st.CreateAccount(ctx, "ann@example.test", must(auth.HashPassword("ann-main", cheapParams))))
	bob := must(st.CreateAccount(ctx, "bob@example.net", must(auth.HashPassword("bob-main", cheapParams))))
	ok(t, st.SetSettings(ctx, ann.ID, map[string]string{"admin": "true", "pop3.delete_mode": "keep"}))
	ok(t, st.AddAlias(ctx, "info@example.test", []string{"ann@example.test", "bob@example.net"}))
	ok(t, st.AddAlias(ctx, "@example.net", []string{"bob@example.net"}))
	fx.appPassword = auth.GenerateAppPassword()
	must(st.CreateAppPassword(ctx, ann.ID, "phone", must(auth.HashPassword(fx.appPassword, cheapParams))))
	revoked := must(st.CreateAppPassword(ctx, ann.ID, "old laptop", must(auth.HashPassword("x", cheapParams))))
	ok(t, st.DeleteAppPassword(ctx, ann.ID, revoked.ID))
	must(st.CreateAppPassword(ctx, bob.ID, "tablet", must(auth.HashPassword(auth.GenerateAppPassword(), cheapParams))))
	// Access tokens: one used (last_used set), one expiring, one revoked.
	_, fx.accessToken = must2(st.CreateAccessToken(ctx, ann.ID, "calendar sync", time.Time{}))
	must2(st.LookupAccessToken(ctx, fx.accessToken))
	must2(st.CreateAccessToken(ctx, ann.ID, "script", time.Now().Add(30*24*time.Hour)))
	oldApp, _ := must2(st.CreateAccessToken(ctx, bob.ID, "old app", time.Time{}))
	ok(t, st.DeleteAccessToken(ctx, bob.ID, oldApp.ID))
	must2(st.CreateAccessToken(ctx, bob.ID, "new app", time.Time{}))
	ok(t, st.GrantDelegation(ctx, ann.ID, "bob@example.net", store.SendOnBehalf))
	ok(t, st.GrantDelegation(ctx, bob.ID, "@example.test", store.SendAs))
	// Sieve: ann's active script among others, names in both cases, a
	// renamed one; bob's scripts, none active. Duplicate records (the
	// table is copied like every other: a message delivered again after
	// the move is still known), expiring after the copy's checks.
	ok(t, st.PutSieveScript(ctx, ann.ID, "main", "require \"fileinto\";\r\nif header :contains \"subject\" \"work\" { fileinto \"Work\"; }\r\n"))
	ok(t, st.PutSieveScript(ctx, ann.ID, "Main", "keep;"))
	ok(t, st.PutSieveScript(ctx, ann.ID, "draft", "# ünïcode\ndiscard;"))
	ok(t, st.RenameSieveScript(ctx, ann.ID, "draft", "vacation ☀"))
	ok(t, st.SetActiveSieveScript(ctx, ann.ID, "main"))
	ok(t, st.PutSieveScript(ctx, bob.ID, "main", "stop;"))
	later := time.Now().Add(24 * time.Hour)
	ok(t, st.RecordSieveDuplicate(ctx, ann.ID, "<dup@example.org>", later))
	ok(t, st.RecordSieveDuplicate(ctx, bob.ID, "\x00binary\xff id", later))

	inbox := must(st.Mailbox(ctx, ann.ID, "INBOX"))
	fx.inbox = inbox.ID
	work := must(st.CreateMailbox(ctx, ann.ID, "Work", ""))
	must(st.CreateMailbox(ctx, ann.ID, "Work/2026", ""))
	gone := must(st.CreateMailbox(ctx, ann.ID, "Temp", ""))
	ok(t, st.DeleteMailbox(ctx, ann.ID, "Temp"))
	fx.deletedBox = gone.ID
	ok(t, st.SetSubscribed(ctx, ann.ID, "Work", true))
	bobInbox := must(st.Mailbox(ctx, bob.ID, "INBOX"))
	// Annotations: shared and private, on a mailbox and the server, a
	// binary value and an empty one.
	ok(t, st.SetMetadata(ctx, work.ID, ann.ID, []store.MetadataEntry{
		{Name: "/shared/comment", Value: []byte("work")}, {Name: "/private/vendor/example/bin", Value: []byte{0, 0xff, '\r', '\n'}},
	}))
	ok(t, st.SetMetadata(ctx, work.ID, bob.ID, []store.MetadataEntry{{Name: "/private/comment", Value: []byte{}}}))
	ok(t, st.SetMetadata(ctx, 0, bob.ID, []store.MetadataEntry{{Name: "/private/vendor/example/theme", Value: []byte("dark")}, {Name: "/shared/comment", Value: []byte("motd")}}))

	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	var uids []uint32
	for i := range 30 {
		d := deliver(t, st, storetest.Message(fmt.Sprintf("small %d", i), strings.Repeat(fmt.Sprintf("line %d\r\n", i), 20+i)),
			store.Target{MailboxID: inbox.ID, InternalDate: at.Add(time.Duration(i) * time.Minute)})
		uids = append(uids, d[0].UID)
	}
	// Large bodies (blobs), one delivered to two accounts (one body).
	fx.big = bigMessage("big one", 3<<20, 1)
	d := deliver(t, st, fx.big,
		store.Target{MailboxID: inbox.ID, Flags: store.FlagFlagged, Keywords: []string{"$Important"}, HeaderPrefix: []byte("X-Spam: no\r\n")},
		store.Target{MailboxID: bobInbox.ID})
	fx.bigUID = d[0].UID
	deliver(t, st, bigMessage("big two", 1<<20+123, 2), store.Target{MailboxID: work.ID, Keywords: []string{"project-x"}})
	deliver(t, st, bigMessage("medium", 70<<10, 3), store.Target{MailboxID: work.ID})

	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: uids[:10], Op: store.FlagsAdd, Flags: store.FlagSeen}))
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: uids[3:5], Op: store.FlagsAdd, Keywords: []string{"$Label1", "todo"}}))
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: uids[20:25], Op: store.FlagsAdd, Flags: store.FlagDeleted}))
	must(st.Expunge(ctx, inbox.ID, uids[20:25]))
	must(st.Copy(ctx, inbox.ID, uids[:3], work.ID, store.KeepAll))
	must(st.Move(ctx, inbox.ID, uids[5:7], work.ID, store.KeepAll))
	list := must(st.MessageList(ctx, inbox.ID))
	ok(t, st.HideFromPOP3(ctx, ann.ID, []int64{list[0].ID, list[1].ID}))

	// The queue: a message to two remote recipients.
	q := must(st.Stage(ctx, bytes.NewReader(storetest.Message("outbound", "hello\r\n"))))
	must(st.Enqueue(ctx, q, store.QueueEntry{From: "ann@example.test", EnvID: "env1", Ret: "HDRS", EightBit: true,
		HeaderPrefix: []byte("DKIM-Signature: v=1\r\n"),
		Recipients: []store.QueueRecipient{
			{Address: "x@remote.example", Domain: "remote.example", Notify: []string{"FAILURE", "DELAY"}},
			{Address: "y@other.example", Domain: "other.example", ORcpt: "rfc822;y@other.example"},
		}}))
	must(st.Enqueue(ctx, must(st.Stage(ctx, bytes.NewReader(bigMessage("big outbound", 200<<10, 4)))),
		store.QueueEntry{From: "", Recipients: []store.QueueRecipient{{Address: "z@remote.example", Domain: "remote.example"}}}))

	// Junk: the base model and ann's, one message remembered as spam.
	must(st.TrainJunk(ctx, []store.JunkTraining{
		{AccountID: store.JunkBaseModel, As: store.JunkSpam, Hashes: []uint64{1, 2, 3, 1 << 63, 1<<64 - 1}},
		{AccountID: store.JunkBaseModel, As: store.JunkHam, Hashes: []uint64{3, 4}},
		{AccountID: ann.ID, ContentID: list[2].ContentID, As: store.JunkSpam, Hashes: []uint64{7, 8, 9}},
	}))

	for i, acct := range []store.Account{ann, ann, bob} {
		h := sha256.Sum256([]byte{byte(i)})
		ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: h[:], AccountID: acct.ID, Admin: acct.ID == ann.ID,
			Created: at.Add(time.Duration(i) * time.Hour), LastSeen: at.Add(time.Duration(i)*time.Hour + time.Minute)}))
	}
	must(st.ClaimVacationReply(ctx, ann.ID, "friend@example.org", at, 24*time.Hour))
	for i := range 3 {
		ok(t, st.AddDMARCResult(ctx, store.DMARCResult{Day: time.Date(2026, 11, 29+i, 0, 0, 0, 0, time.UTC),
			PolicyDomain: "example.org", Policy: "p=reject", ReportTo: "mailto:d@example.org", SourceIP: "192.0.2.1",
			HeaderFrom: "example.org", EnvelopeFrom: "example.org", Disposition: "none", DKIM: "pass", SPF: "fail",
			AuthResults: "dkim:example.org:s1:pass", Count: i + 1}))
	}
	fx.uploads = append(fx.uploads,
		must(st.PutUpload(ctx, ann.ID, "text/plain", strings.NewReader("an uploaded note\r\n"), 0, 0)),
		must(st.PutUpload(ctx, ann.ID, "application/pdf", bytes.NewReader(bigMessage("upload", 600<<10, 7)), 0, 0)),
		must(st.PutUpload(ctx, bob.ID, "image/png", bytes.NewReader(bigMessage("bob's upload", 70<<10, 8)), 0, 0)))
	must(st.AddEmailSubmission(ctx, store.EmailSubmission{AccountID: ann.ID, IdentityID: "I1", EmailID: 1, ThreadID: 1,
		MailFrom: "ann@example.test", RcptTo: []string{"bob@example.test", "x@example.org"}, SendAt: at}))
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{{Email: "x@example.org", Name: "Xavier Örn", Sent: true},
		{Email: "friend@example.org", Name: "A Friend"}}, at))
	return fx
}

// snapshot is everything a store's API shows of an installation, as text,
// so that two stores can be compared: whatever differs between the
// source and a copy that a client or an operator could notice.
func snapshot(t testing.TB, st store.Store, uploads ...store.Upload) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, d := range must(st.Domains(ctx)) {
		fmt.Fprintf(&b, "domain %+v\n", d)
	}
	for _, a := range must(st.Aliases(ctx)) {
		fmt.Fprintf(&b, "alias %+v\n", a)
	}
	for _, acct := range must(st.Accounts(ctx)) {
		fmt.Fprintf(&b, "account %+v\n", acct)
		fmt.Fprintf(&b, " settings %v\n", must(st.Settings(ctx, acct.ID)))
		p, hashes, err := st.LookupCredentials(ctx, acct.Email)
		ok(t, err)
		fmt.Fprintf(&b, " credentials %+v %q\n", p, hashes)
		for _, ap := range must(st.AppPasswords(ctx, acct.ID)) {
			fmt.Fprintf(&b, " app password %+v\n", ap)
		}
		for _, tok := range must(st.AccessTokens(ctx, acct.ID)) {
			fmt.Fprintf(&b, " access token %+v\n", tok)
		}
		for _, d := range must(st.Delegations(ctx, acct.ID)) {
			fmt.Fprintf(&b, " delegation %+v\n", d)
		}
		for _, sc := range must(st.SieveScripts(ctx, acct.ID)) {
			full := must(st.SieveScript(ctx, acct.ID, sc.Name))
			fmt.Fprintf(&b, " sieve script %+v, listed %+v\n", full, sc)
		}
		if active, err := st.ActiveSieveScript(ctx, acct.ID); err == nil {
			fmt.Fprintf(&b, " active sieve script %q\n", active.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			ok(t, err)
		}
		for _, id := range []string{"<dup@example.org>", "\x00binary\xff id", "<other@example.org>"} {
			fmt.Fprintf(&b, " sieve duplicate %q seen %v\n", id, must(st.SieveDuplicateSeen(ctx, acct.ID, id, time.Now())))
		}
		fmt.Fprintf(&b, " subscriptions %q\n", must(st.Subscriptions(ctx, acct.ID)))
		fmt.Fprintf(&b, " pop3 hidden %v\n", must(st.HiddenFromPOP3(ctx, acct.ID)))
		fmt.Fprintf(&b, " server annotations %q\n", must(st.GetMetadata(ctx, 0, acct.ID, []string{"/shared", "/private"}, store.MetadataDepthInfinity)))
		for _, mb := range must(st.MailboxList(ctx, acct.ID)) {
			fmt.Fprintf(&b, " mailbox %+v\n", mb)
			for _, who := range must(st.Accounts(ctx)) {
				fmt.Fprintf(&b, "  annotations seen by %s %q\n", who.Email, must(st.GetMetadata(ctx, mb.ID, who.ID, []string{"/shared", "/private"}, store.MetadataDepthInfinity)))
			}
			ch := must(st.ChangesSince(ctx, mb.ID, 1))
			fmt.Fprintf(&b, "  vanished since 1: %v, modseq %d\n", ch.Vanished, ch.ModSeq)
			for _, msg := range must(st.MessageList(ctx, mb.ID)) {
				body := must(st.OpenBody(ctx, mb.ID, msg.UID))
				h := sha256.New()
				_, err := io.Copy(h, io.NewSectionReader(body, 0, body.Size()))
				body.Close()
				ok(t, err)
				fmt.Fprintf(&b, "  message %+v body %x\n", msg, h.Sum(nil))
			}
		}
	}
	var ids []int64
	for _, acct := range must(st.Accounts(ctx)) {
		ids = append(ids, acct.ID)
	}
	for _, m := range must(st.JunkModels(ctx, append(ids, store.JunkBaseModel), []uint64{1, 2, 3, 4, 7, 8, 9, 1 << 63, 1<<64 - 1})) {
		fmt.Fprintf(&b, "junk %d: %d %d %d %v\n", m.AccountID, m.Spam, m.Ham, m.Tokens, m.Counts)
	}
	for _, q := range must(st.QueuedMessages(ctx)) {
		fmt.Fprintf(&b, "queued %+v\n", q)
		body := must(st.OpenQueued(ctx, q.ID))
		h := sha256.New()
		_, err := io.Copy(h, io.NewSectionReader(body, 0, body.Size()))
		body.Close()
		ok(t, err)
		fmt.Fprintf(&b, " body %x\n", h.Sum(nil))
	}
	for i := range 3 {
		h := sha256.Sum256([]byte{byte(i)})
		fmt.Fprintf(&b, "web session %+v\n", must(st.WebSession(ctx, h[:])))
	}
	for _, r := range must(st.DMARCResults(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))) {
		fmt.Fprintf(&b, "dmarc %+v\n", r)
	}
	for _, u := range uploads {
		fmt.Fprintf(&b, "upload %+v\n", must(st.Upload(ctx, u.AccountID, u.ID)))
		body := must(st.OpenUpload(ctx, u.AccountID, u.ID))
		h := sha256.New()
		_, err := io.Copy(h, io.NewSectionReader(body, 0, body.Size()))
		body.Close()
		ok(t, err)
		fmt.Fprintf(&b, " body %x\n", h.Sum(nil))
	}
	return b.String()
}

// login logs in as ann with her app password through the authenticator.
func login(t testing.TB, st store.Store, password string) error {
	t.Helper()
	authn := auth.NewAuthenticator(st, nil, time.Hour, nil)
	_, err := authn.Authenticate(context.Background(), netip.MustParseAddr("127.0.0.1"), "imap", "ann@example.test", password)
	return err
}
