package wire

import (
	"testing"
)

// fetchLine reads "tag [UID ]FETCH set items [modifiers]" and returns the
// items rendered, the set, and the modifiers.
func fetchLine(t *testing.T, line string) (items, set string, mods FetchModifiers, err error) {
	t.Helper()
	eachRig(t, line+"\r\n", Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "t")
		mustSP(t, d)
		name, _ := d.ReadAtom()
		if name == "UID" {
			mustSP(t, d)
			d.ReadAtom()
		}
		mustSP(t, d)
		s, _, e := d.ReadSequenceSet()
		if e != nil {
			t.Fatal(e)
		}
		mustSP(t, d)
		its, e := d.ReadFetchItems()
		if e == nil && d.SP() {
			mods, e = d.ReadFetchModifiers()
		}
		if e == nil {
			e = d.ExpectCRLF()
		}
		items, set, err = dumpItems(its), s.String(), e
		if e != nil {
			d.DiscardLine()
		}
		mustEOF(t, d)
	})
	return
}

func TestReadFetchItems(t *testing.T) {
	for _, c := range []struct{ in, items, set, err string }{
		// Thunderbird's header sync
		{"t UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])",
			"UID RFC822.SIZE FLAGS BODY[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]/peek", "1:*", ""},
		// iOS Mail style
		{"t UID FETCH 4461:4470 (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE SUBJECT FROM TO CC MESSAGE-ID REFERENCES IN-REPLY-TO X-UNIVERSALLY-UNIQUE-IDENTIFIER)] BODYSTRUCTURE)",
			"UID FLAGS RFC822.SIZE INTERNALDATE BODY[HEADER.FIELDS (DATE SUBJECT FROM TO CC MESSAGE-ID REFERENCES IN-REPLY-TO X-UNIVERSALLY-UNIQUE-IDENTIFIER)]/peek BODYSTRUCTURE", "4461:4470", ""},
		// RFC 9051 6.4.5 example
		{"t FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])", "FLAGS BODY[HEADER.FIELDS (DATE FROM)]", "2:4", ""},
		// macros
		{"t FETCH 1 ALL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE", "1", ""},
		{"t FETCH 1 fast", "FLAGS INTERNALDATE RFC822.SIZE", "1", ""},
		{"t FETCH 1 FULL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY", "1", ""},
		{"t FETCH 1 body[]", "BODY[]", "1", ""},
		{"t FETCH 1 BODY", "BODY", "1", ""},
		{"t FETCH 1 (BODY[]<0.2048>)", "BODY[]<0>/0.2048", "1", ""},
		{"t FETCH 1 (BODY.PEEK[1.2.MIME] BODY[4.2.HEADER] BODY[3.TEXT] BODY[1.2.3])",
			"BODY[1.2.MIME]/peek BODY[4.2.HEADER] BODY[3.TEXT] BODY[1.2.3]", "1", ""},
		{"t FETCH 1 (BODY[HEADER.FIELDS.NOT (Received \"X-Spam Status\" {3}\r\nX-A)])",
			`BODY[HEADER.FIELDS.NOT (Received "X-Spam Status" X-A)]`, "1", ""},
		{"t FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT ENVELOPE)", "RFC822 RFC822.HEADER RFC822.TEXT ENVELOPE", "1", ""},
		// RFC 3516 BINARY
		{"t FETCH 1 (BINARY.PEEK[1]<100.200> BINARY.SIZE[1.2] BINARY[])", "BINARY[1]<100>/peek/100.200 BINARY.SIZE[1.2] BINARY[]", "1", ""},
		// CONDSTORE / QRESYNC / OBJECTID / SAVEDATE / PREVIEW
		{"t UID FETCH 1:* (FLAGS MODSEQ EMAILID THREADID SAVEDATE)", "FLAGS MODSEQ EMAILID THREADID SAVEDATE", "1:*", ""},
		{"t FETCH 1:* (UID PREVIEW (LAZY))", "UID PREVIEW/lazy", "1:*", ""},
		{"t FETCH 1:* (PREVIEW)", "PREVIEW", "1:*", ""},
		{"t FETCH 1 PREVIEW (lazy)", "PREVIEW/lazy", "1", ""},
		// partial numbers beyond 32 bits are clamped
		{"t FETCH 1 BODY[]<9999999999.1>", "BODY[]<4294967295>/4294967295.1", "1", ""},
		// errors
		{"t FETCH 1 ()", "", "1", "empty"},
		{"t FETCH 1 (ALL)", "", "1", "unknown FETCH item"},
		{"t FETCH 1 BOGUS", "", "1", "unknown FETCH item"},
		{"t FETCH 1 BODY.PEEK", "", "1", `"["`},
		{"t FETCH 1 BODY[MIME]", "", "1", "MIME needs a part"},
		{"t FETCH 1 BODY[1.]", "", "1", "invalid section"},
		{"t FETCH 1 BODY[0]", "", "1", "non-zero"},
		{"t FETCH 1 BODY[HEADER.FIELDS ()]", "", "1", "empty header field list"},
		{"t FETCH 1 BODY[HEADER.FIELDS]", "", "1", "space"},
		{"t FETCH 1 BODY[TEXT", "", "1", `"]"`},
		{"t FETCH 1 BODY[]<0.0>", "", "1", "non-zero"},
		{"t FETCH 1 BODY[]<0>", "", "1", `"."`},
		{"t FETCH 1 BINARY[HEADER]", "", "1", `"]"`},
		{"t FETCH 1 BINARY.SIZE[1]<0.1>", "", "1", "end of line"},
		{"t FETCH 1 (FLAGS", "", "1", "end of line"},
		{"t FETCH 1 (FLAGS  UID)", "", "1", "FETCH item"},
		{"t FETCH 1 (FLAGS) (BOGUS 1)", "", "1", "unknown FETCH modifier"},
		{"t FETCH 1 (FLAGS) (CHANGEDSINCE 0)", "", "1", "non-zero"},
	} {
		items, set, _, err := fetchLine(t, c.in)
		errContains(t, err, c.err)
		if err == nil && (items != c.items || set != c.set) {
			t.Errorf("%s:\n got  %s [%s]\n want %s [%s]", c.in, items, set, c.items, c.set)
		}
	}
}

func TestReadFetchModifiers(t *testing.T) {
	items, _, mods, err := fetchLine(t, "t FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
	if err != nil || items != "FLAGS" || mods.ChangedSince != 12345 || mods.Vanished {
		t.Fatalf("%s %+v %v", items, mods, err)
	}
	// RFC 7162 3.2.6 example
	_, _, mods, err = fetchLine(t, "t UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
	if err != nil || mods.ChangedSince != 12345 || !mods.Vanished {
		t.Fatalf("%+v %v", mods, err)
	}
	// a lone PREVIEW item followed by modifiers, not preview-mods
	items, _, mods, err = fetchLine(t, "t FETCH 1 PREVIEW (CHANGEDSINCE 7)")
	if err != nil || items != "PREVIEW" || mods.ChangedSince != 7 {
		t.Fatalf("%s %+v %v", items, mods, err)
	}
}

func TestFetchItemClone(t *testing.T) {
	eachRig(t, "t FETCH 1 (BODY[1.2.HEADER.FIELDS (A B)]<1.2>)\r\nu NOOP\r\n", Limits{}, func(t *testing.T, r *rig) {
		mustTag(t, r.d, "t")
		mustSP(t, r.d)
		r.d.ReadAtom()
		mustSP(t, r.d)
		r.d.ReadSequenceSet()
		mustSP(t, r.d)
		items, err := r.d.ReadFetchItems()
		if err != nil {
			t.Fatal(err)
		}
		kept := items[0].Clone()
		mustCRLF(t, r.d)
		mustTag(t, r.d, "u") // resets the arena
		if got := dumpItems([]FetchItem{kept}); got != "BODY[1.2.HEADER.FIELDS (A B)]<1>/1.2" {
			t.Fatal(got)
		}
	})
}
