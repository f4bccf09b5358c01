package wire

import "testing"

func TestReadACL(t *testing.T) {
	shape := func(s ACLArgs) func(*Decoder) (ACL, error) {
		return func(d *Decoder) (ACL, error) { return d.ReadACL(s) }
	}
	// RFC 4314's examples.
	runCmdCases(t, shape(ACLIdentifierRights), []cmdCase[ACL]{
		{in: `A001 SeTacl INBOX/Drafts David lrswida`, want: ACL{"INBOX/Drafts", "David", "lrswida"}},
		{in: `A002 SETACL INBOX/Drafts Chris +cda`, want: ACL{"INBOX/Drafts", "Chris", "+cda"}},
		{in: `A035 SETACL INBOX/Drafts John lrQswicda`, want: ACL{"INBOX/Drafts", "John", "lrQswicda"}},
		{in: `a SETACL "Other Users/kim@example.org/Team" "lee@example.org" ""`, want: ACL{"Other Users/kim@example.org/Team", "lee@example.org", ""}},
		{in: "a SETACL inbox {5+}\r\nanyon -w", want: ACL{"INBOX", "anyon", "-w"}},
		{in: `a SETACL INBOX kim`, err: "expected a space"},
		{in: `a SETACL INBOX kim lr x`, err: "expected end of line"},
		{in: `a SETACL INBOX (kim) lr`, err: "a string"},
	})
	runCmdCases(t, shape(ACLIdentifier), []cmdCase[ACL]{
		{in: `B002 DeleteAcl INBOX Fred`, want: ACL{Mailbox: "INBOX", Identifier: "Fred"}},
		{in: `a001 LISTRIGHTS ~/Mail/saved smith`, want: ACL{Mailbox: "~/Mail/saved", Identifier: "smith"}},
		{in: `a LISTRIGHTS INBOX`, err: "expected a space"},
		{in: `a DELETEACL INBOX a b`, err: "expected end of line"},
	})
	runCmdCases(t, shape(ACLMailbox), []cmdCase[ACL]{
		{in: `A002 GETACL INBOX`, want: ACL{Mailbox: "INBOX"}},
		{in: `A003 MYRIGHTS "Other Users/kim@example.org/Team"`, want: ACL{Mailbox: "Other Users/kim@example.org/Team"}},
		{in: `a GETACL`, err: "expected a space"},
		{in: `a MYRIGHTS INBOX x`, err: "expected end of line"},
	})
}
