package wire

import (
	"fmt"
	"strings"
	"testing"
)

// searchLine reads "t [UID ]SEARCH args" and renders the result.
func searchLine(t *testing.T, line string, l Limits) (string, error) {
	t.Helper()
	var out string
	var err error
	eachRig(t, line+"\r\n", l, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "t")
		mustSP(t, d)
		if name, _ := d.ReadAtom(); name == "UID" {
			mustSP(t, d)
			d.ReadAtom()
		}
		mustSP(t, d)
		s, e := d.ReadSearch()
		if e == nil {
			e = d.ExpectCRLF()
		}
		out, err = "", e
		if e != nil {
			d.DiscardLine()
		} else {
			if s.Return != nil {
				out += fmt.Sprintf("return%+v ", *s.Return)
			}
			if s.Charset != "" {
				out += "charset=" + s.Charset + " "
			}
			out += dumpKey(s.Key)
		}
		mustEOF(t, d)
	})
	return out, err
}

func TestReadSearch(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		// RFC 9051 6.4.4 examples
		{`t SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"`,
			`(AND (FLAGGED) (SINCE 1994-02-01) (NOT (FROM "Smith")))`, ""},
		{`t SEARCH TEXT "string not in mailbox"`, `(TEXT "string not in mailbox")`, ""},
		{"t SEARCH CHARSET UTF-8 TEXT {12}\r\n\xd0\xa5\xd0\x9e\xd0\x9b\xd0\x9e\xd0\x94\xd0\x98",
			`charset=UTF-8 (TEXT "ХОЛОДИ")`, ""},
		// RFC 4731 ESEARCH
		{`t SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"`,
			`return{Min:true Max:false All:false Count:true Save:false Partial:<nil>} (AND (FLAGGED) (SINCE 1994-02-01) (NOT (FROM "Smith")))`, ""},
		{`t UID SEARCH RETURN () UNDELETED`, `return{Min:false Max:false All:true Count:false Save:false Partial:<nil>} (UNDELETED)`, ""},
		// RFC 5182 SEARCHRES
		{`t SEARCH RETURN (SAVE) SINCE 1-Jan-2004 NOT FROM "Smith"`,
			`return{Min:false Max:false All:false Count:false Save:true Partial:<nil>} (AND (SINCE 2004-01-01) (NOT (FROM "Smith")))`, ""},
		{`t UID SEARCH UID $ SMALLER 4096`, `(AND (UID $) (SMALLER 4096))`, ""},
		{`t SEARCH $`, `(SEQ $)`, ""},
		// RFC 7162 CONDSTORE
		{`t SEARCH MODSEQ "/flags/\\draft" all 620162338`, `(MODSEQ field="\\Draft" type=all 620162338)`, ""},
		{`t SEARCH OR NOT MODSEQ 720162338 LARGER 50000`, `(OR (NOT (MODSEQ 720162338)) (LARGER 50000))`, ""},
		{`t SEARCH MODSEQ 0`, `(MODSEQ 0)`, ""},
		// RFC 8474 OBJECTID, RFC 8514 SAVEDATE
		{`t SEARCH EMAILID M6d99ac3275bb4e`, `(EMAILID "M6d99ac3275bb4e")`, ""},
		{`t SEARCH THREADID T64b478a75b7ea9`, `(THREADID "T64b478a75b7ea9")`, ""},
		{`t SEARCH SAVEDBEFORE 1-Jan-2021 SAVEDON 2-Jan-2021 SAVEDSINCE 3-Jan-2021 SAVEDATESUPPORTED`,
			`(AND (SAVEDBEFORE 2021-01-01) (SAVEDON 2021-01-02) (SAVEDSINCE 2021-01-03) (SAVEDATESUPPORTED))`, ""},
		// RFC 3501 keys, groups, sets, case
		{`t SEARCH new old Recent 1:5,7 UID 3:*`, `(AND (NEW) (OLD) (RECENT) (SEQ 1:5,7) (UID 3:*))`, ""},
		{`t SEARCH OR (SEEN FLAGGED) (DELETED)`, `(OR (AND (SEEN) (FLAGGED)) (DELETED))`, ""},
		{`t SEARCH ((ALL))`, `(ALL)`, ""},
		{`t SEARCH HEADER Message-ID "<a@b.example>" KEYWORD $Forwarded UNKEYWORD $Junk`,
			`(AND (HEADER field="Message-ID" "<a@b.example>") (KEYWORD "$Forwarded") (UNKEYWORD "$Junk"))`, ""},
		{`t SEARCH BCC a CC b TO c BODY d SUBJECT "e f" ANSWERED UNANSWERED DELETED UNDELETED DRAFT UNDRAFT SEEN UNSEEN FLAGGED UNFLAGGED`,
			`(AND (BCC "a") (CC "b") (TO "c") (BODY "d") (SUBJECT "e f") (ANSWERED) (UNANSWERED) (DELETED) (UNDELETED) (DRAFT) (UNDRAFT) (SEEN) (UNSEEN) (FLAGGED) (UNFLAGGED))`, ""},
		{`t SEARCH BEFORE "1-Feb-1994" ON 2-Feb-1994 SENTBEFORE 3-Mar-2000 SENTON 4-Apr-2000 SENTSINCE 5-May-2000`,
			`(AND (BEFORE 1994-02-01) (ON 1994-02-02) (SENTBEFORE 2000-03-03) (SENTON 2000-04-04) (SENTSINCE 2000-05-05))`, ""},
		// Thunderbird quick filter
		{`t UID SEARCH UNDELETED OR OR FROM "jo" SUBJECT "jo" TO "jo"`,
			`(AND (UNDELETED) (OR (OR (FROM "jo") (SUBJECT "jo")) (TO "jo")))`, ""},
		// errors
		{`t SEARCH FOO`, ``, "unknown search key"},
		{`t SEARCH NOT`, ``, "space"},
		{`t SEARCH OR ALL`, ``, "space"},
		{`t SEARCH ()`, ``, "empty"},
		{`t SEARCH ALL `, ``, "end of line"},
		{`t SEARCH BEFORE 32-Jan-2000`, ``, "invalid date"},
		{`t SEARCH RETURN (BOGUS) ALL`, ``, "unknown RETURN option"},
		{`t SEARCH RETURN (MIN)`, ``, "space"},
		{`t SEARCH MODSEQ "/foo" all 1`, ``, "/flags/"},
		{`t SEARCH MODSEQ "/flags/\\seen" none 1`, ``, "priv, shared or all"},
		{`t SEARCH EMAILID bad.id`, ``, "object id"},
		{`t SEARCH LARGER -1`, ``, "number"},
		{`t SEARCH CHARSET`, ``, "space"},
		{`t SEARCH UID 0`, ``, "start at 1"},
		{`t SEARCH (ALL`, ``, "end of line"},
	} {
		got, err := searchLine(t, c.in, Limits{})
		errContains(t, err, c.err)
		if err == nil && got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.in, got, c.want)
		}
	}
}

func TestSearchNesting(t *testing.T) {
	deep := "t SEARCH " + strings.Repeat("(", 33) + "ALL" + strings.Repeat(")", 33)
	_, err := searchLine(t, deep, Limits{})
	errContains(t, err, "nested")
	// long NOT chains are fine up to 16*MaxDepth
	ok := "t SEARCH " + strings.Repeat("NOT ", 16*4) + "ALL"
	if _, err := searchLine(t, ok, Limits{MaxDepth: 4}); err != nil {
		t.Fatal(err)
	}
	_, err = searchLine(t, "t SEARCH "+strings.Repeat("NOT ", 16*4+1)+"ALL", Limits{MaxDepth: 4})
	errContains(t, err, "nested")
	// OR chains of a client filter with many terms
	or := "t SEARCH " + strings.Repeat("OR UID 1 ", 200) + "UID 2"
	if _, err := searchLine(t, or, Limits{}); err != nil {
		t.Fatal(err)
	}
}
