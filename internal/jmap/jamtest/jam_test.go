package jamtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

func TestMain(m *testing.M) { os.Exit(testrig.Main(m)) }

// requireEnv is set by `make test` (and so in CI) after
// scripts/install-test-deps.sh has installed every test dependency, node
// and this directory's node_modules among them: there the test must run.
const requireEnv = "MAILROOM_REQUIRE_POSTGRES"

// node returns the node binary, skipping the test where node or the
// installed packages are missing, except under requireEnv.
func node(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat("node_modules/jmap-jam/package.json")
	}
	if err != nil {
		msg := "node or jmap-jam missing (" + err.Error() + "): scripts/install-test-deps.sh installs node and runs npm ci in internal/jmap/jamtest"
		if os.Getenv(requireEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// TestJMAPJamClient is issue 19's "done when", by a JMAP client written by
// others against a real server: jmap-jam logs in with an access token and
// with an app password, lists the mailboxes, lists the newest messages
// with one query+get request, reads the HTML body of a
// multipart/alternative message, sets $seen, sends a message through
// EmailSubmission (moved from Drafts to Sent on success), and receives a
// push when new mail arrives.
func TestJMAPJamClient(t *testing.T) {
	bin := node(t)
	r := testrig.Start(t, testrig.Factories{"http": web.Factory()}, testrig.Listen("http"))
	acct := r.Account("ann@example.test")
	for i := range 3 {
		r.Deliver(acct, fmt.Sprintf("From: bob@example.org\r\nTo: ann@example.test\r\nSubject: plain %d\r\n"+
			"Date: Mon, 7 Dec 2026 10:0%d:00 +0000\r\nMessage-ID: <p%d@example.org>\r\n\r\nplain text\r\n", i, i, i))
	}
	r.Deliver(acct, "From: bob@example.org\r\nTo: ann@example.test\r\nSubject: html version\r\nDate: Mon, 7 Dec 2026 11:00:00 +0000\r\n"+
		"Message-ID: <h@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"+
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain caf\xc3\xa9\r\n"+
		"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>caf=C3=A9 <b>bold</b></p>\r\n--b--\r\n")

	// An app password for Basic and an access token for Bearer.
	const appPassword = "jam-app-password-1234"
	cred, err := auth.HashPassword(appPassword, testrig.HashParams())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.CreateAppPassword(t.Context(), acct.ID, "jam", cred); err != nil {
		t.Fatal(err)
	}
	_, token, err := r.Store.CreateAccessToken(t.Context(), acct.ID, "jam", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r.Account("bob@example.test")

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "client.mjs", "http://"+r.Addr("http"), "ann@example.test", appPassword, token, "bob@example.test")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out []byte
	var pushAt time.Time
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if sc.Text() == "push ready" {
			pushAt = time.Now()
			r.Deliver(acct, "From: carol@example.org\r\nTo: ann@example.test\r\nSubject: pushed\r\n\r\nnew mail\r\n")
			continue
		}
		out = sc.Bytes()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node client.mjs: %v\nstderr: %s\nstdout: %s", err, stderr.String(), out)
	}
	if !pushAt.IsZero() {
		t.Logf("delivery to the end of the pushed stream: %v", time.Since(pushAt))
	}
	t.Logf("jmap-jam: %s", out)
	var sum struct {
		TokenUsername string
		SendResponses []string
		SentCreated   bool
		PushedState   bool
		Username      string
		AccountID     string
		Mailboxes     []string
		InboxTotal    int
		QueryIDs      int
		Subjects      []string
		Previews      bool
		SeenBefore    bool
		HTMLType      string
		HTMLValue     string
		Updated       []string
		SeenAfter     bool
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("summary: %v: %s", err, out)
	}
	if sum.TokenUsername != "ann@example.test" {
		t.Errorf("session by access token: %+v", sum)
	}
	if !slices.Equal(sum.SendResponses, []string{"Email/set", "EmailSubmission/set", "Email/set"}) || !sum.SentCreated {
		t.Errorf("sending: %+v", sum)
	}
	if !sum.PushedState {
		t.Errorf("no push of the delivery: %+v", sum)
	}
	// The message reached bob, and the draft is in ann's Sent without $draft.
	if got := r.Read("bob@example.test", "INBOX"); len(got) != 1 || !strings.Contains(got[0].Raw, "Hello from a JMAP client.") {
		t.Errorf("bob's INBOX: %+v", got)
	}
	if sentMsgs := r.Messages(acct, "Sent"); len(sentMsgs) != 1 || sentMsgs[0].Flags&store.FlagDraft != 0 || len(r.Messages(acct, "Drafts")) != 0 {
		t.Errorf("Sent %+v, Drafts %d", sentMsgs, len(r.Messages(acct, "Drafts")))
	}
	if sum.Username != "ann@example.test" || sum.AccountID == "" || !slices.Contains(sum.Mailboxes, "inbox") || !slices.Contains(sum.Mailboxes, "trash") {
		t.Errorf("session or mailboxes: %+v", sum)
	}
	if sum.InboxTotal != 4 || sum.QueryIDs != 4 || len(sum.Subjects) != 4 || sum.Subjects[0] != "html version" || !sum.Previews {
		t.Errorf("message list: %+v", sum)
	}
	if sum.HTMLType != "text/html" || !strings.Contains(sum.HTMLValue, "café <b>bold</b>") {
		t.Errorf("HTML body: %q %q", sum.HTMLType, sum.HTMLValue)
	}
	if sum.SeenBefore || len(sum.Updated) != 1 || !sum.SeenAfter {
		t.Errorf("$seen: %+v", sum)
	}
	// The flag is the store's, as IMAP sees it.
	seen := 0
	for _, m := range r.Messages(acct, "INBOX") {
		if m.Flags&store.FlagSeen != 0 {
			seen++
		}
	}
	if seen != 1 {
		t.Errorf("%d messages \\Seen in the store, want 1", seen)
	}
}
