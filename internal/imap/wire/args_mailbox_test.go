package wire

import (
	"strings"
	"testing"
)

func TestReadSelect(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadSelect, []cmdCase[Select]{
		{in: `a SELECT INBOX`, want: Select{Mailbox: "INBOX"}},
		{in: `a EXAMINE inbox`, want: Select{Mailbox: "INBOX"}},
		{in: `a SELECT "Sent Items"`, want: Select{Mailbox: "Sent Items"}},
		{in: "a SELECT {9+}\r\nEntw&APw-", want: Select{Mailbox: "Entw&APw-"}},
		// RFC 7162 3.1.8 example
		{in: `a SELECT INBOX (CONDSTORE)`, want: Select{Mailbox: "INBOX", CondStore: true}},
		{in: `a SELECT INBOX ()`, want: Select{Mailbox: "INBOX"}},
		// RFC 7162 3.2.5.1 examples
		{in: `A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))`,
			want: Select{Mailbox: "INBOX", QResync: &QResync{UIDValidity: 67890007, ModSeq: 20050715194045000,
				KnownUIDs: seqs("41,43:211,214:541")}}},
		{in: `B02 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))`,
			want: Select{Mailbox: "INBOX", QResync: &QResync{UIDValidity: 67890007, ModSeq: 90060115194045000,
				KnownUIDs: seqs("41:211,214:541")}}},
		{in: `B02 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997:29999)))`,
			want: Select{Mailbox: "INBOX", QResync: &QResync{UIDValidity: 67890007, ModSeq: 90060115194045000,
				KnownUIDs: seqs("1:29997"), KnownSeqs: seqs("5000,7500,9000,9990:9999"),
				KnownSeqUIDs: seqs("15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997:29999")}}},
		{in: `a select INBOX (condstore qresync (1 0))`,
			want: Select{Mailbox: "INBOX", CondStore: true, QResync: &QResync{UIDValidity: 1}}},
		{in: `a SELECT INBOX (QRESYNC (1 5 (1:2 3:4)))`,
			want: Select{Mailbox: "INBOX", QResync: &QResync{UIDValidity: 1, ModSeq: 5, KnownSeqs: seqs("1:2"), KnownSeqUIDs: seqs("3:4")}}},
		{in: `a SELECT`, err: "expected a space"},
		{in: `a SELECT (CONDSTORE)`, err: "expected a mailbox name"},
		{in: `a SELECT INBOX CONDSTORE`, err: `expected "("`},
		{in: `a SELECT INBOX (FOO)`, err: "unknown SELECT parameter FOO"},
		{in: `a SELECT INBOX (CONDSTORE`, err: "end of line"},
		{in: `a SELECT INBOX (QRESYNC)`, err: "expected a space"},
		{in: `a SELECT INBOX (QRESYNC ())`, err: "expected a non-zero number"},
		{in: `a SELECT INBOX (QRESYNC (0 1))`, err: "expected a non-zero number"},
		{in: `a SELECT INBOX (QRESYNC (1))`, err: "expected a space"},
		{in: `a SELECT INBOX (QRESYNC (1 2 $))`, err: `"$" is not allowed here`},
		{in: `a SELECT INBOX (QRESYNC (1 2 1:5 6))`, err: `expected "("`},
		{in: `a SELECT INBOX (QRESYNC (1 2 (1:2)))`, err: "expected a space"},
		{in: `a SELECT INBOX (QRESYNC (1 2 (1 2) 3))`, err: `expected ")"`},
		{in: `a SELECT INBOX (CONDSTORE) x`, err: "expected end of line"},
	})
}

func TestReadMailboxArg(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadMailboxArg, []cmdCase[string]{
		{in: `a DELETE Trash/old`, want: "Trash/old"},
		{in: `a SUBSCRIBE inbox`, want: "INBOX"},
		{in: `a UNSUBSCRIBE "a \"b\""`, want: `a "b"`},
		{in: `a DELETE`, err: "expected a space"},
		{in: `a DELETE a b`, err: "expected end of line"},
		{in: `a DELETE %`, err: "expected a mailbox name"},
	})
}

func TestReadCreate(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadCreate, []cmdCase[Create]{
		{in: `a CREATE owatagusiam/`, want: Create{Mailbox: "owatagusiam/"}},
		// RFC 6154 5.2 example
		{in: `t1 CREATE "Important Messages" (USE (\Important))`, want: Create{Mailbox: "Important Messages", Use: []string{`\Important`}}},
		{in: `a create Archive (use (\Archive \Junk))`, want: Create{Mailbox: "Archive", Use: []string{`\Archive`, `\Junk`}}},
		{in: `a CREATE x (USE ())`, want: Create{Mailbox: "x"}},
		{in: `a CREATE x ()`, want: Create{Mailbox: "x"}},
		{in: `a CREATE`, err: "expected a space"},
		{in: `a CREATE x (FOO (\Archive))`, err: "unknown CREATE parameter FOO"},
		{in: `a CREATE x (USE \Archive)`, err: `expected "("`},
		{in: `a CREATE x (USE (\*))`, err: "flag"},
		{in: `a CREATE x y`, err: `expected "("`},
	})
}

func TestReadRename(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadRename, []cmdCase[Rename]{
		{in: `a RENAME blurdybloop sarasoop`, want: Rename{"blurdybloop", "sarasoop"}},
		{in: "a RENAME inbox {7+}\r\nOld/Box", want: Rename{"INBOX", "Old/Box"}},
		{in: `a RENAME a`, err: "expected a space"},
		{in: `a RENAME a b c`, err: "expected end of line"},
	})
}

func TestReadListCommand(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadListCommand, []cmdCase[List]{
		{in: `a LIST "" ""`, want: List{Reference: "", Patterns: []string{""}}},
		{in: `a LIST "" *`, want: List{Patterns: []string{"*"}}},
		{in: `a LIST ~/Mail/ %`, want: List{Reference: "~/Mail/", Patterns: []string{"%"}}},
		{in: `a list inbox "foo bar/%"`, want: List{Reference: "INBOX", Patterns: []string{"foo bar/%"}}},
		// RFC 5258 5 examples
		{in: `A02 LIST (SUBSCRIBED) "" "*"`, want: List{SelectSubscribed: true, Patterns: []string{"*"}}},
		{in: `A03 LIST () "" "%" RETURN (CHILDREN)`, want: List{Patterns: []string{"%"}, ReturnChildren: true}},
		{in: `A04 LIST (REMOTE) "" "%" RETURN (CHILDREN)`, want: List{SelectRemote: true, Patterns: []string{"%"}, ReturnChildren: true}},
		{in: `A05 LIST (REMOTE SUBSCRIBED) "" "*"`, want: List{SelectRemote: true, SelectSubscribed: true, Patterns: []string{"*"}}},
		{in: `A06 LIST "" % RETURN (SUBSCRIBED)`, want: List{Patterns: []string{"%"}, ReturnSubscribed: true}},
		{in: `A07 LIST "" "*" RETURN (SUBSCRIBED CHILDREN)`, want: List{Patterns: []string{"*"}, ReturnSubscribed: true, ReturnChildren: true}},
		{in: `C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)`,
			want: List{SelectSubscribed: true, RecursiveMatch: true, Patterns: []string{"%"}, ReturnChildren: true}},
		{in: `BBB LIST "" ("INBOX" "Drafts" "Sent/%")`, want: List{Patterns: []string{"INBOX", "Drafts", "Sent/%"}}},
		// RFC 6154 SPECIAL-USE
		{in: `t1 LIST (SPECIAL-USE) "" "*"`, want: List{SelectSpecialUse: true, Patterns: []string{"*"}}},
		{in: `t3 LIST "" "%" RETURN (SPECIAL-USE)`, want: List{Patterns: []string{"%"}, ReturnSpecialUse: true}},
		// RFC 5819 LIST-STATUS example
		{in: `A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))`,
			want: List{Patterns: []string{"%"}, ReturnStatus: true, StatusItems: []string{"MESSAGES", "UNSEEN"}}},
		{in: `a LIST "" % RETURN (status (uidnext size) subscribed)`,
			want: List{Patterns: []string{"%"}, ReturnStatus: true, StatusItems: []string{"UIDNEXT", "SIZE"}, ReturnSubscribed: true}},
		{in: `a LIST "" % RETURN (STATUS ())`, want: List{Patterns: []string{"%"}, ReturnStatus: true}},
		{in: `a LIST "" % RETURN ()`, want: List{Patterns: []string{"%"}}},
		{in: `a LIST "" ()`, want: List{}},
		{in: `a LIST`, err: "expected a space"},
		{in: `a LIST ""`, err: "expected a space"},
		{in: `a LIST (FOO) "" *`, err: "unknown LIST selection option FOO"},
		{in: `a LIST (RECURSIVEMATCH) "" *`, err: "RECURSIVEMATCH needs another selection option"},
		{in: `a LIST (REMOTE RECURSIVEMATCH) "" *`, err: "RECURSIVEMATCH needs another selection option"},
		{in: `a LIST "" * FOO (CHILDREN)`, err: "expected RETURN, got FOO"},
		{in: `a LIST "" * RETURN (FOO)`, err: "unknown LIST return option FOO"},
		{in: `a LIST "" * RETURN (STATUS (BOGUS))`, err: "unknown STATUS item BOGUS"},
		{in: `a LIST "" * RETURN (STATUS)`, err: "expected a space"},
		{in: `a LIST "" * RETURN CHILDREN`, err: `expected "("`},
		{in: `a LIST "" ("a" b`, err: "end of line"},
		{in: `a LIST "" * RETURN (CHILDREN) x`, err: "expected end of line"},
	})
}

func TestReadLsub(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadLsub, []cmdCase[List]{
		{in: `a LSUB "#news." "comp.mail.*"`, want: List{Reference: "#news.", Patterns: []string{"comp.mail.*"}}},
		{in: `a LSUB "" %`, want: List{Patterns: []string{"%"}}},
		{in: `a LSUB (SUBSCRIBED) "" *`, err: "expected a mailbox name"},
		{in: `a LSUB "" ("a")`, err: "expected a mailbox pattern"},
		{in: `a LSUB "" * RETURN (CHILDREN)`, err: "expected end of line"},
	})
}

func TestReadStatus(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadStatus, []cmdCase[Status]{
		// RFC 9051 6.3.11 example
		{in: `A042 STATUS blurdybloop (UIDNEXT MESSAGES)`, want: Status{"blurdybloop", []string{"UIDNEXT", "MESSAGES"}}},
		{in: `a status inbox (messages recent uidnext uidvalidity unseen deleted size highestmodseq mailboxid)`,
			want: Status{"INBOX", []string{"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "HIGHESTMODSEQ", "MAILBOXID"}}},
		{in: `a STATUS x ()`, want: Status{Mailbox: "x"}},
		{in: `a STATUS x`, err: "expected a space"},
		{in: `a STATUS x MESSAGES`, err: `expected "("`},
		{in: `a STATUS x (messages bogus)`, err: "unknown STATUS item BOGUS"},
		{in: `a STATUS x (` + strings.Repeat("X", 40) + `)`, err: "unknown STATUS item " + strings.Repeat("X", 32)},
		{in: `a STATUS x (MESSAGES`, err: "end of line"},
		{in: `a STATUS x (MESSAGES) y`, err: "expected end of line"},
	})
}
