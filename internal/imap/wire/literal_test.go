package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// appendCmd reads "APPEND mailbox [flags] literal" up to the literal and
// returns the literal reader.
func appendCmd(t *testing.T, d *Decoder, tag string) (*Literal, error) {
	t.Helper()
	mustTag(t, d, tag)
	mustSP(t, d)
	if a, err := d.ReadAtom(); a != "APPEND" || err != nil {
		t.Fatalf("atom %q %v", a, err)
	}
	mustSP(t, d)
	if _, err := d.ReadMailbox(); err != nil {
		t.Fatal(err)
	}
	mustSP(t, d)
	if c, _ := d.Peek(); c == '(' {
		if _, err := d.ReadFlagList(); err != nil {
			t.Fatal(err)
		}
		mustSP(t, d)
	}
	return d.LiteralReader()
}

func TestSynchronizingLiteral(t *testing.T) {
	in := "a APPEND INBOX (\\Seen) {11}\r\nhello world\r\nb NOOP\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		lit, err := appendCmd(t, r.d, "a")
		if err != nil {
			t.Fatal(err)
		}
		if lit.Size != 11 || lit.Binary || lit.NonSync {
			t.Fatalf("literal %+v", lit)
		}
		if len(r.conts) != 1 || r.conts[0] != 11 {
			t.Fatalf("cont calls %v, want [11]", r.conts)
		}
		b, err := io.ReadAll(lit)
		if err != nil || string(b) != "hello world" {
			t.Fatalf("literal %q %v", b, err)
		}
		mustCRLF(t, r.d)
		mustTag(t, r.d, "b")
	})
}

func TestNonSynchronizingLiteral(t *testing.T) {
	for _, plus := range []bool{false, true} {
		in := "a APPEND INBOX {5+}\r\nhello\r\n"
		eachRig(t, in, Limits{LiteralPlus: plus}, func(t *testing.T, r *rig) {
			lit, err := appendCmd(t, r.d, "a")
			if err != nil {
				t.Fatal(err)
			}
			if !lit.NonSync || len(r.conts) != 0 {
				t.Fatalf("literal %+v, conts %v", lit, r.conts)
			}
			b, _ := io.ReadAll(lit)
			if string(b) != "hello" {
				t.Fatalf("%q", b)
			}
			mustCRLF(t, r.d)
			mustEOF(t, r.d)
		})
	}
}

func TestLiteralMinusLimit(t *testing.T) {
	big := strings.Repeat("x", 5000)
	in := "a APPEND INBOX {5000+}\r\n" + big + " trailing junk\r\nb NOOP\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		_, err := appendCmd(t, r.d, "a")
		var tl *LiteralTooLargeError
		if !errors.As(err, &tl) || !tl.NonSync || tl.Max != 4096 || tl.Size != 5000 || tl.Code() != "TOOBIG" {
			t.Fatalf("err %v", err)
		}
		errContains(t, err, "LITERAL-")
		if err := r.d.DiscardLine(); err != nil {
			t.Fatal(err)
		}
		mustTag(t, r.d, "b")
	})
	// with LITERAL+ the same literal is fine
	eachRig(t, in, Limits{LiteralPlus: true}, func(t *testing.T, r *rig) {
		lit, err := appendCmd(t, r.d, "a")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := io.Copy(io.Discard, lit); n != 5000 {
			t.Fatal(n)
		}
	})
	// exactly 4096 is allowed under LITERAL-
	eachRig(t, "a APPEND INBOX {4096+}\r\n"+big[:4096]+"\r\n", Limits{}, func(t *testing.T, r *rig) {
		if _, err := appendCmd(t, r.d, "a"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLiteralOverMax(t *testing.T) {
	// A synchronizing literal over MaxLiteral: refused before the
	// continuation; the client never sends it, the next command follows.
	in := "a APPEND INBOX {1000}\r\nb NOOP\r\n"
	eachRig(t, in, Limits{MaxLiteral: 999}, func(t *testing.T, r *rig) {
		_, err := appendCmd(t, r.d, "a")
		var tl *LiteralTooLargeError
		if !errors.As(err, &tl) || tl.NonSync || tl.Size != 1000 || tl.Max != 999 {
			t.Fatalf("err %v", err)
		}
		if len(r.conts) != 0 {
			t.Fatalf("continuation sent for a refused literal")
		}
		if err := r.d.DiscardLine(); err != nil {
			t.Fatal(err)
		}
		mustTag(t, r.d, "b")
	})
	// in a string read into memory, MaxInlineLiteral applies
	eachRig(t, "a LOGIN {100}\r\nb NOOP\r\n", Limits{MaxInlineLiteral: 10}, func(t *testing.T, r *rig) {
		mustTag(t, r.d, "a")
		mustSP(t, r.d)
		r.d.ReadAtom()
		mustSP(t, r.d)
		_, err := r.d.ReadAString()
		errContains(t, err, "over the limit of 10")
		r.d.DiscardLine()
		mustTag(t, r.d, "b")
	})
	// a huge announced size is refused without reading anything
	eachRig(t, "a APPEND INBOX {9223372036854775807}\r\n", Limits{}, func(t *testing.T, r *rig) {
		_, err := appendCmd(t, r.d, "a")
		errContains(t, err, "over the limit")
		mustEOF(t, r.d)
	})
	eachRig(t, "a APPEND INBOX {99999999999999999999}\r\nb NOOP\r\n", Limits{}, func(t *testing.T, r *rig) {
		_, err := appendCmd(t, r.d, "a")
		errContains(t, err, "too large")
		// a synchronizing literal the client waits on: nothing to skip
		if err := r.d.DiscardLine(); err != nil {
			t.Fatal(err)
		}
		mustTag(t, r.d, "b")
	})
}

func TestContinuationRefused(t *testing.T) {
	in := "a APPEND INBOX {10}\r\nb NOOP\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		quota := errors.New("over quota")
		r.cont = func(int64) error { return quota }
		_, err := appendCmd(t, r.d, "a")
		var re *RefusedError
		if !errors.As(err, &re) || !errors.Is(err, quota) {
			t.Fatalf("err %v", err)
		}
		if err := r.d.DiscardLine(); err != nil {
			t.Fatal(err)
		}
		mustTag(t, r.d, "b")
	})
}

func TestLiteral8(t *testing.T) {
	data := "a\x00b\x00\xff\r\n\x00"
	in := "a APPEND INBOX ~{8}\r\n" + data + "\r\n" +
		"b APPEND INBOX UTF8 (~{3+}\r\n\x00\x01\x02)\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		lit, err := appendCmd(t, r.d, "a")
		if err != nil || !lit.Binary || lit.Size != 8 {
			t.Fatalf("%+v %v", lit, err)
		}
		b, _ := io.ReadAll(lit)
		if string(b) != data {
			t.Fatalf("%q", b)
		}
		mustCRLF(t, r.d)
		// RFC 6855: APPEND ... UTF8 (literal8)
		mustTag(t, r.d, "b")
		mustSP(t, r.d)
		r.d.ReadAtom()
		mustSP(t, r.d)
		r.d.ReadMailbox()
		mustSP(t, r.d)
		if a, _ := r.d.ReadAtom(); a != "UTF8" {
			t.Fatal(a)
		}
		mustSP(t, r.d)
		var got []byte
		err = r.d.ReadList(func() error {
			l, err := r.d.LiteralReader()
			if err != nil {
				return err
			}
			got, err = io.ReadAll(l)
			return err
		})
		if err != nil || !bytes.Equal(got, []byte{0, 1, 2}) {
			t.Fatalf("%q %v", got, err)
		}
		mustCRLF(t, r.d)
		mustEOF(t, r.d)
	})
}

func TestLiteralAbandoned(t *testing.T) {
	in := "a APPEND INBOX {10}\r\n0123456789\r\nb NOOP\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		lit, err := appendCmd(t, r.d, "a")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3)
		if n, _ := io.ReadFull(lit, buf); n != 3 || lit.Remaining() != 7 {
			t.Fatal(n, lit.Remaining())
		}
		// the caller gives up (say, the store failed) and ends the command
		mustCRLF(t, r.d)
		if _, err := lit.Read(buf); err == nil {
			t.Fatal("read from an abandoned literal")
		}
		mustTag(t, r.d, "b")
	})
	// DiscardLine after an abandoned literal skips it and the line
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		if _, err := appendCmd(t, r.d, "a"); err != nil {
			t.Fatal(err)
		}
		if err := r.d.DiscardLine(); err != nil {
			t.Fatal(err)
		}
		mustTag(t, r.d, "b")
	})
}

func TestMultiAppend(t *testing.T) {
	// RFC 3502 MULTIAPPEND: several messages, mixed literal forms.
	in := "a APPEND Drafts (\\Draft) \"05-Jan-2024 10:00:00 +0100\" {3+}\r\none (\\Seen) {3}\r\ntwo ~{5}\r\nth\x00ee\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a")
		mustSP(t, d)
		d.ReadAtom()
		mustSP(t, d)
		d.ReadMailbox()
		var got []string
		for d.SP() {
			if c, _ := d.Peek(); c == '(' {
				if _, err := d.ReadFlagList(); err != nil {
					t.Fatal(err)
				}
				mustSP(t, d)
			}
			if c, _ := d.Peek(); c == '"' {
				if _, err := d.ReadDateTime(); err != nil {
					t.Fatal(err)
				}
				mustSP(t, d)
			}
			lit, err := d.LiteralReader()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(lit)
			got = append(got, string(b))
		}
		mustCRLF(t, d)
		if strings.Join(got, "|") != "one|two|th\x00ee" {
			t.Fatalf("%q", got)
		}
		if len(r.conts) != 2 || r.conts[0] != 3 || r.conts[1] != 5 {
			t.Fatalf("conts %v", r.conts)
		}
		mustEOF(t, d)
	})
}

func TestDiscardLineLiterals(t *testing.T) {
	for _, c := range []struct {
		name, in string
		conts    int
	}{
		// a syntax error on a line that announces a synchronizing literal:
		// no continuation, and the client's next line is a new command
		{"sync", "a LOGIN (bad) {5}\r\nb NOOP\r\n", 0},
		// non-synchronizing: the octets and the rest of the line are skipped,
		// recursively
		{"nonsync", "a LOGIN (bad) {5+}\r\nhello {3+}\r\nabc more\r\nb NOOP\r\n", 0},
		// the literal announcement right where the error is
		{"at-error", "a FETCH {5+}\r\nhello\r\nb NOOP\r\n", 0},
		// an error after a literal was read: the line after it is skipped
		{"after", "a LOGIN {2}\r\nab (bad) {2}\r\nb NOOP\r\n", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			eachRig(t, c.in, Limits{}, func(t *testing.T, r *rig) {
				d := r.d
				mustTag(t, d, "a")
				mustSP(t, d)
				d.ReadAtom()
				mustSP(t, d)
				if c.name == "after" {
					if s, err := d.ReadAString(); err != nil || s != "ab" {
						t.Fatal(s, err)
					}
					mustSP(t, d)
				}
				if c.name == "at-error" {
					_, _, err := d.ReadSequenceSet()
					errContains(t, err, "sequence set")
				} else {
					_, err := d.ReadAString()
					errContains(t, err, "expected a string")
				}
				if err := d.DiscardLine(); err != nil {
					t.Fatal(err)
				}
				if len(r.conts) != c.conts {
					t.Fatalf("continuations %v", r.conts)
				}
				mustTag(t, d, "b")
			})
		})
	}
}

func TestDiscardLineBudget(t *testing.T) {
	in := "a LOGIN (bad) {1000+}\r\n" + strings.Repeat("x", 1000) + "\r\n"
	eachRig(t, in, Limits{MaxLiteral: 100, MaxLine: 100}, func(t *testing.T, r *rig) {
		mustTag(t, r.d, "a")
		mustSP(t, r.d)
		r.d.ReadAtom()
		mustSP(t, r.d)
		r.d.ReadAString()
		if err := r.d.DiscardLine(); !errors.Is(err, ErrResync) {
			t.Fatalf("DiscardLine = %v, want ErrResync", err)
		}
		if _, err := r.d.ReadTag(); !errors.Is(err, ErrResync) {
			t.Fatalf("ReadTag after ErrResync = %v", err)
		}
	})
	// an endless line
	in = "a NOOP " + strings.Repeat("y", 1000) + "\r\n"
	eachRig(t, in, Limits{MaxLiteral: 100, MaxLine: 100}, func(t *testing.T, r *rig) {
		mustTag(t, r.d, "a")
		if err := r.d.DiscardLine(); !errors.Is(err, ErrResync) {
			t.Fatalf("DiscardLine = %v, want ErrResync", err)
		}
	})
}

func TestLiteralSplitReads(t *testing.T) {
	// A literal whose octets arrive in many small reads, through a tiny
	// bufio buffer: nothing may depend on how the input is chunked.
	body := strings.Repeat("0123456789", 1000)
	in := "a APPEND INBOX {10000}\r\n" + body + "\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		lit, err := appendCmd(t, r.d, "a")
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		buf := make([]byte, 7)
		for {
			n, err := lit.Read(buf)
			sb.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if sb.String() != body {
			t.Fatal("literal content differs")
		}
		mustCRLF(t, r.d)
	})
}

func TestLiteralTruncatedInput(t *testing.T) {
	eachRig(t, "a APPEND INBOX {10}\r\nabc", Limits{}, func(t *testing.T, r *rig) {
		lit, err := appendCmd(t, r.d, "a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(lit); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err %v", err)
		}
	})
}
