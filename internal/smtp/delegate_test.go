package smtp

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// delegationRig has kim (the delegate), sales (the owner, with the alias
// team@), bob (a recipient) and lee in another domain.
func delegationRig(t *testing.T) (*rig, store.Account, store.Account) {
	r := newRig(t, nil)
	kim := r.Account("kim@example.test")
	sales := r.Account("sales@example.test")
	r.Account("bob@example.test")
	r.Account("lee@other.test")
	if err := r.Store.AddAlias(context.Background(), "team@example.test", []string{"sales@example.test"}); err != nil {
		t.Fatal(err)
	}
	return r, kim, sales
}

func (r *rig) grant(owner store.Account, grantee string, mode store.DelegationMode) {
	r.T.Helper()
	if err := r.Store.GrantDelegation(context.Background(), owner.ID, grantee, mode); err != nil {
		r.T.Fatal(err)
	}
}

// lastTo is the last message bob received.
func (r *rig) lastTo(email string) string {
	r.T.Helper()
	got := r.Bodies(email, "INBOX")
	if len(got) == 0 {
		r.T.Fatalf("%s received nothing", email)
	}
	return got[len(got)-1]
}

func TestDelegationSendAs(t *testing.T) {
	r, kim, sales := delegationRig(t)
	ctx := context.Background()

	// No grant: the owner's address is refused in MAIL FROM and in From:.
	c := r.login(kim.Email)
	wantCode(t, c.Mail(sales.Email, nil), 553, "5.7.1")
	err := send(c, kim.Email, []string{"bob@example.test"}, "From: Sales <sales@example.test>\r\nSubject: forged\r\n\r\nx\r\n")
	wantCode(t, err, 553, "5.7.1")

	r.grant(sales, kim.Email, store.SendAs)
	// A grant counts from the next connection on.
	c = r.login(kim.Email)
	for _, from := range []string{"sales@example.test", "team@example.test", "sales+offers@example.test"} {
		if err := send(c, from, []string{"bob@example.test"}, "From: Sales <"+from+">\r\nSubject: as "+from+"\r\n\r\nhello\r\n"); err != nil {
			t.Fatalf("send as %s: %v", from, err)
		}
		got := r.lastTo("bob@example.test")
		if !strings.Contains(got, "Subject: as "+from+"\r\n") || strings.Contains(got, "\r\nSender:") {
			t.Fatalf("as %s, bob got (send-as adds no Sender:):\n%s", from, got)
		}
	}
	// The envelope may stay the delegate's own.
	if err := send(c, kim.Email, []string{"bob@example.test"}, "From: sales@example.test\r\nSubject: mixed\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	// Send-as may even name the owner as Sender:.
	if err := send(c, kim.Email, []string{"bob@example.test"}, "From: kim@example.test\r\nSender: sales@example.test\r\nSubject: sender\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	// Someone who granted nothing stays refused.
	wantCode(t, c.Mail("bob@example.test", nil), 553, "5.7.1")
	// The owner's Sent keeps nothing by default (delegation.sent_copy
	// "delegate"): the delegate's mail program keeps its copy.
	if n := len(r.Bodies(sales.Email, "Sent")); n != 0 {
		t.Fatalf("sales's Sent holds %d messages, want none", n)
	}

	// Revoked: refused again, on the next connection.
	if err := r.Store.RevokeDelegation(ctx, sales.ID, kim.Email); err != nil {
		t.Fatal(err)
	}
	c = r.login(kim.Email)
	wantCode(t, c.Mail(sales.Email, nil), 553, "5.7.1")
	wantCode(t, send(c, kim.Email, []string{"bob@example.test"}, "From: sales@example.test\r\n\r\nx\r\n"), 553, "5.7.1")
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 5 {
		t.Fatalf("bob has %d messages, want the 5 sent while granted", n)
	}
}

func TestDelegationOnBehalf(t *testing.T) {
	r, kim, sales := delegationRig(t)
	r.grant(sales, kim.Email, store.SendOnBehalf)
	c := r.login(kim.Email)

	// No Sender: in the message: the server adds the delegate's.
	if err := send(c, sales.Email, []string{"bob@example.test"}, "From: Sales <sales@example.test>\r\nSubject: on behalf\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	got := r.lastTo("bob@example.test")
	if strings.Count(got, "\r\nSender: ") != 1 || !strings.Contains(got, "\r\nSender: kim@example.test\r\n") {
		t.Fatalf("on-behalf message without Sender: got:\n%s", got)
	}
	// The delegate's own address (a plus-address too) as Sender: kept as
	// it is.
	if err := send(c, kim.Email, []string{"bob@example.test"}, "From: sales@example.test\r\nSender: Kim <kim+work@example.test>\r\nSubject: own sender\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	got = r.lastTo("bob@example.test")
	if strings.Count(got, "Sender: ") != 1 || !strings.Contains(got, "Sender: Kim <kim+work@example.test>\r\n") {
		t.Fatalf("own Sender: not kept as it was:\n%s", got)
	}
	// Sender: naming someone else: refused, saying why.
	err := send(c, kim.Email, []string{"bob@example.test"}, "From: sales@example.test\r\nSender: bob@example.test\r\n\r\nx\r\n")
	wantCode(t, err, 553, "5.7.1")
	// On behalf only: the owner cannot be the one who sent it either.
	err = send(c, kim.Email, []string{"bob@example.test"}, "From: sales@example.test\r\nSender: team@example.test\r\n\r\nx\r\n")
	wantCode(t, err, 553, "5.7.1")
	if !strings.Contains(err.Error(), "only on its behalf") || !strings.Contains(err.Error(), "kim@example.test") {
		t.Fatalf("refusal does not say why: %v", err)
	}
	err = send(c, kim.Email, []string{"bob@example.test"}, "From: kim@example.test\r\nSender: sales@example.test\r\n\r\nx\r\n")
	wantCode(t, err, 553, "5.7.1")
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 2 {
		t.Fatalf("bob has %d messages, want 2", n)
	}
}

// TestDelegationOnBehalfPython: the on-behalf rules as a mail program
// meets them (Python's smtplib over STARTTLS), which sets no Sender:.
func TestDelegationOnBehalfPython(t *testing.T) {
	r, kim, sales := delegationRig(t)
	r.grant(sales, kim.Email, store.SendOnBehalf)
	lines := smtplibSend(t, r, "kim@example.test", "sales@example.test",
		"From: Sales <sales@example.test>\r\n", "From: sales@example.test\r\nSender: lee@other.test\r\n")
	if len(lines) != 2 || lines[0] != "accepted" || !strings.HasPrefix(lines[1], "553 5.7.1 you may send as <sales@example.test> only on its behalf") {
		t.Fatalf("python smtplib got: %q", lines)
	}
	if got := r.lastTo("bob@example.test"); !strings.Contains(got, "\r\nSender: kim@example.test\r\n") {
		t.Fatalf("bob got no Sender: naming kim:\n%s", got)
	}
}

func TestDelegationDomainGrant(t *testing.T) {
	r, kim, sales := delegationRig(t)
	r.grant(sales, "@example.test", store.SendAs)
	c := r.login(kim.Email)
	if err := send(c, sales.Email, []string{"bob@example.test"}, "From: sales@example.test\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("kim, by the @example.test grant: %v", err)
	}
	// Lee is in other.test: nothing granted.
	c = r.login("lee@other.test")
	wantCode(t, c.Mail(sales.Email, nil), 553, "5.7.1")
	wantCode(t, send(c, "lee@other.test", []string{"bob@example.test"}, "From: sales@example.test\r\n\r\nx\r\n"), 553, "5.7.1")
}

// TestDelegationSentCopy: with delegation.sent_copy=both the owner's Sent
// gets a copy (\Seen) of what the delegate sends as it, submitted with
// swaks; the delegate's own Sent is left to their mail program.
func TestDelegationSentCopy(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Fatal("swaks is needed (scripts/install-test-deps.sh installs it)")
	}
	r, kim, sales := delegationRig(t)
	r.grant(sales, kim.Email, store.SendOnBehalf)
	host, port, _ := net.SplitHostPort(r.Addr("submission"))
	submit := func(subject string) {
		t.Helper()
		out, err := exec.Command(swaks, "--server", host, "--port", port, "--tls", "--auth", "PLAIN",
			"--auth-user", kim.Email, "--auth-password", password, "--from", sales.Email, "--to", "bob@example.test",
			"--header", "From: Sales <sales@example.test>", "--header", "Subject: "+subject).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
	}
	submit("without a copy")
	if n := len(r.Bodies(sales.Email, "Sent")); n != 0 {
		t.Fatalf("sent_copy=delegate: sales's Sent holds %d messages", n)
	}

	r.SetSettings(sales, store.SentCopySetting, store.SentCopyBoth)
	submit("with a copy")
	sent := r.Read(sales.Email, "Sent")
	if len(sent) != 1 {
		t.Fatalf("sent_copy=both: sales's Sent holds %d messages, want 1", len(sent))
	}
	if !strings.Contains(sent[0].Raw, "Subject: with a copy") || !strings.Contains(sent[0].Raw, "\r\nSender: kim@example.test\r\n") {
		t.Fatalf("the Sent copy is not the message sent:\n%s", sent[0].Raw)
	}
	if sent[0].Meta.Flags&store.FlagSeen == 0 {
		t.Fatal("the Sent copy is not \\Seen")
	}
	if n := len(r.Bodies(kim.Email, "Sent")); n != 0 {
		t.Fatalf("kim's Sent holds %d messages: submission keeps no copy of the delegate's", n)
	}
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 2 {
		t.Fatalf("bob has %d messages, want 2", n)
	}
	// Mail the delegate sends as itself is no concern of the owner's.
	c := r.login(kim.Email)
	if err := send(c, kim.Email, []string{"bob@example.test"}, "From: kim@example.test\r\nSubject: own\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Bodies(sales.Email, "Sent")); n != 1 {
		t.Fatalf("sales's Sent holds %d messages after kim sent as kim, want 1", n)
	}
}

// TestDelegationRefusalText: the refusals without a grant say what is
// wrong (wantCode checks only the codes).
func TestDelegationRefusalText(t *testing.T) {
	r, kim, _ := delegationRig(t)
	c := r.login(kim.Email)
	if err := c.Mail("sales@example.test", nil); err == nil || !strings.Contains(err.Error(), "<sales@example.test> is not an address of your account, and you may not send as it") {
		t.Fatalf("MAIL FROM refusal: %v", err)
	}
	c = r.login(kim.Email)
	err := send(c, kim.Email, []string{"bob@example.test"}, "From: sales@example.test\r\n\r\nx\r\n")
	if err == nil || !strings.Contains(err.Error(), "From: <sales@example.test> is not an address of your account") {
		t.Fatalf("From: refusal: %v", err)
	}
}
