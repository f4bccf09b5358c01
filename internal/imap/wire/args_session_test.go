package wire

import (
	"errors"
	"testing"
)

func TestReadCommandName(t *testing.T) {
	for _, c := range []struct {
		in   string
		want CommandName
		err  string
	}{
		{in: "a NOOP", want: CommandName{Name: "NOOP"}},
		{in: "a select INBOX", want: CommandName{Name: "SELECT"}},
		{in: "a X-FOO", want: CommandName{Name: "X-FOO"}},
		{in: "a uid fetch 1 FLAGS", want: CommandName{Name: "FETCH", UID: true}},
		{in: "a UID EXPUNGE 1", want: CommandName{Name: "EXPUNGE", UID: true}},
		{in: "a UID Store 1 FLAGS ()", want: CommandName{Name: "STORE", UID: true}},
		{in: "a UID COPY 1 x", want: CommandName{Name: "COPY", UID: true}},
		{in: "a UID MOVE 1 x", want: CommandName{Name: "MOVE", UID: true}},
		{in: "a UID SEARCH ALL", want: CommandName{Name: "SEARCH", UID: true}},
		{in: "a UID SELECT INBOX", err: "UID SELECT is not a command"},
		{in: "a UID", err: "expected a space"},
		{in: "a", err: "expected a space"},
		{in: "a (", err: "expected an atom"},
	} {
		eachRig(t, c.in+"\r\n", Limits{}, func(t *testing.T, r *rig) {
			mustTag(t, r.d, "a")
			got, err := r.d.ReadCommandName()
			if c.err != "" || err != nil {
				errContains(t, err, c.err)
			} else if got != c.want {
				t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
			}
			r.d.DiscardLine()
			mustEOF(t, r.d)
		})
	}
}

func TestReadLogin(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadLogin, []cmdCase[Login]{
		{in: `a LOGIN joe@example.test secret`, want: Login{"joe@example.test", "secret"}},
		{in: `a login "joe smith" "p\"w\\d"`, want: Login{"joe smith", `p"w\d`}},
		// RFC 9051 6.2.3 example, literal password (LITERAL+ and synchronizing)
		{in: "a LOGIN {3+}\r\nabc {4}\r\nx y\"", want: Login{"abc", `x y"`}},
		{in: `a LOGIN joe`, err: "expected a space"},
		{in: `a LOGIN joe `, err: "expected a string"},
		{in: `a LOGIN joe pw extra`, err: "expected end of line"},
		{in: `a LOGIN (joe) pw`, err: `expected a string, got "("`},
		{in: `a LOGIN`, err: "expected a space"},
	})
}

func TestReadAuthenticate(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadAuthenticate, []cmdCase[Authenticate]{
		{in: `a AUTHENTICATE PLAIN`, want: Authenticate{Mechanism: "PLAIN"}},
		{in: `a AUTHENTICATE scram-sha-256`, want: Authenticate{Mechanism: "scram-sha-256"}},
		// SASL-IR (RFC 4959)
		{in: `a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=`, want: Authenticate{Mechanism: "PLAIN",
			InitialResponse: []byte("\x00joe\x00secret"), HasInitialResponse: true}},
		{in: `a AUTHENTICATE EXTERNAL =`, want: Authenticate{Mechanism: "EXTERNAL", InitialResponse: []byte{}, HasInitialResponse: true}},
		{in: `a AUTHENTICATE PLAIN not-base64!`, err: "malformed initial response"},
		{in: `a AUTHENTICATE PLAIN AGpvZQ`, err: "malformed initial response"},
		{in: `a AUTHENTICATE PLAIN "AGpvZQ=="`, err: `expected an atom, got "\""`},
		{in: `a AUTHENTICATE`, err: "expected a space"},
		{in: `a AUTHENTICATE PLAIN AA== y`, err: "expected end of line"},
	})
}

func TestReadAuthenticateResponse(t *testing.T) {
	in := "a AUTHENTICATE PLAIN\r\nAGpvZQBzZWNyZXQ=\r\n=\r\n\r\n*\r\n!!\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a")
		mustSP(t, d)
		d.ReadAtom()
		if _, err := d.ReadAuthenticate(); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"\x00joe\x00secret", "", ""} {
			got, err := d.ReadAuthenticateResponse()
			if err != nil || string(got) != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		}
		if _, err := d.ReadAuthenticateResponse(); !errors.Is(err, ErrAuthCancelled) {
			t.Fatalf("cancel: %v", err)
		}
		_, err := d.ReadAuthenticateResponse()
		errContains(t, err, "malformed response")
		mustEOF(t, d)
	})
}

func TestReadEnable(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadEnable, []cmdCase[Enable]{
		{in: `a ENABLE CONDSTORE`, want: Enable{[]string{"CONDSTORE"}}},
		{in: `a enable imap4rev2 utf8=accept QResync x-unknown`,
			want: Enable{[]string{"IMAP4REV2", "UTF8=ACCEPT", "QRESYNC", "X-UNKNOWN"}}},
		{in: `a ENABLE`, want: Enable{}},
		{in: `a ENABLE CONDSTORE `, err: "expected an atom"},
		{in: `a ENABLE (CONDSTORE)`, err: `expected an atom, got "("`},
	})
}

func TestReadCompress(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadCompress, []cmdCase[Compress]{
		{in: `a COMPRESS DEFLATE`, want: Compress{"DEFLATE"}},
		{in: `a compress deflate`, want: Compress{"DEFLATE"}},
		{in: `a COMPRESS X-ZSTD`, want: Compress{"X-ZSTD"}},
		{in: `a COMPRESS`, err: "expected a space"},
		{in: `a COMPRESS `, err: "expected a compression mechanism"},
		{in: `a COMPRESS "DEFLATE"`, err: `expected a compression mechanism, got`},
		{in: `a COMPRESS DEFLATE x`, err: "expected end of line"},
	})
}

func TestReadID(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadID, []cmdCase[ID]{
		{in: `a ID NIL`, want: ID{}},
		{in: `a ID nil`, want: ID{}},
		{in: `a ID ()`, want: ID{}},
		// RFC 2971 3.1 example
		{in: `a ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")`,
			want: ID{[]IDParam{{Field: "name", Value: "sodr"}, {Field: "version", Value: "19.34"},
				{Field: "vendor", Value: "Pink Floyd Music Limited"}}}},
		{in: "a ID (\"os\" NIL \"support-url\" {18}\r\nmailto:a@b.example)",
			want: ID{[]IDParam{{Field: "os", Nil: true}, {Field: "support-url", Value: "mailto:a@b.example"}}}},
		{in: `a ID`, err: "expected a space"},
		{in: `a ID name`, err: "ID wants a parameter list or NIL"},
		{in: `a ID "name"`, err: `expected an atom`},
		{in: `a ID (name "x")`, err: "expected a quoted string or literal"},
		{in: `a ID ("name")`, err: "expected a space"},
		{in: `a ID ("name" "x"`, err: "end of line"},
		{in: `a ID NIL x`, err: "expected end of line"},
	})
}

func TestIdleDone(t *testing.T) {
	for in, want := range map[string]bool{"DONE": true, "done": true, " Done ": true, "DONE x": false, "": false, "DON": false} {
		if got := IdleDone([]byte(in)); got != want {
			t.Errorf("IdleDone(%q) = %v", in, got)
		}
	}
}
