package mime

import (
	"errors"
	"testing"
)

func TestUnmarshalErrors(t *testing.T) {
	good, err := mustScan(t, rfc822Msg, Limits{}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{99}, good[1:]...),
		"trailing":      append(append([]byte{}, good...), 0),
		"huge string":   {binaryVersion, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge varint":   {binaryVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"offset > size": {binaryVersion, 1, 0, 0, 5, 0, 0, 0, 0},
	}
	for name, b := range bad {
		var m Message
		if err := m.UnmarshalBinary(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// every single-byte corruption fails cleanly or decodes to something
	// that encodes again
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x5a
		var m Message
		if err := m.UnmarshalBinary(b); err == nil {
			if _, err := m.MarshalBinary(); err != nil {
				t.Fatalf("byte %d: decoded but cannot encode: %v", i, err)
			}
		}
	}
}

func TestMarshalRejectsBadTree(t *testing.T) {
	if _, err := (&Message{}).MarshalBinary(); err == nil {
		t.Error("no root accepted")
	}
	m := &Message{Root: &Part{HeaderStart: 5, BodyStart: 2, End: 9}}
	if _, err := m.MarshalBinary(); err == nil {
		t.Error("unordered offsets accepted")
	}
}

func TestMarshalSize(t *testing.T) {
	m := mustScan(t, nestedMsg, Limits{})
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// 7 parts with envelope and fields: the encoding stays small
	if len(b) > 700 {
		t.Errorf("encoding is %d bytes", len(b))
	}
	t.Logf("nested message: %d bytes of input, %d bytes of structure", len(nestedMsg), len(b))
}

// References rides in envelope marker 2; an envelope without it keeps
// marker 1, the layout records stored before References was kept have.
func TestMarshalReferences(t *testing.T) {
	msg := "Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x>\r\n <b@x>\r\nSubject: hi\r\n\r\nbody\r\n"
	m := mustScan(t, msg, Limits{})
	if got, want := m.Root.Envelope.References, "<a@x> <b@x>"; got != want {
		t.Fatalf("References = %q, want %q", got, want)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Message
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := back.Root.Envelope.References; got != "<a@x> <b@x>" {
		t.Errorf("decoded References = %q", got)
	}

	old := mustScan(t, "Message-ID: <c@x>\r\nSubject: hi\r\n\r\nbody\r\n", Limits{})
	ob, err := old.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(ob) >= len(b) {
		t.Errorf("envelope without References is not smaller: %d >= %d", len(ob), len(b))
	}
	var oback Message
	if err := oback.UnmarshalBinary(ob); err != nil {
		t.Fatal(err)
	}
	if oback.Root.Envelope.References != "" || oback.Root.Envelope.MessageID != "<c@x>" {
		t.Errorf("decoded %+v", oback.Root.Envelope)
	}
}
