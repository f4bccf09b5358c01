package msgauth

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"mailroom/internal/mailtest"
)

// TestARC validates chains sealed by dkimpy (an independent
// implementation): one forwarder, then a second on top of it; then the
// ways a chain breaks.
func TestARC(t *testing.T) {
	w := newWorld(t)
	lk := w.rsaKey("arc", "list.example")
	fk := w.rsaKey("arc2", "fwd.example")
	orig := message("x@reject.example")
	// The list received it, recorded its verdict, changed the subject
	// (breaking any DKIM signature), and sealed.
	atList := append([]byte("Authentication-Results: list.example; spf=pass smtp.mailfrom=reject.example\r\n"), orig...)
	atList = bytes.Replace(atList, []byte("Subject: hello"), []byte("Subject: [list] hello"), 1)
	sealed := mailtest.ARCSeal(t, atList, "list.example", "arc", lk, "list.example")

	res := w.check(sealed, "x.example", "bounce@list.example")
	if res.ARC.Result != "pass" || res.ARC.Instances != 1 || res.ARC.Sealer != "list.example" {
		t.Fatalf("one seal: %+v\n%s", res.ARC, sealed)
	}

	// A second hop seals on top (cv=pass).
	atFwd := append([]byte("Authentication-Results: fwd.example; arc=pass\r\n"), sealed...)
	twice := mailtest.ARCSeal(t, atFwd, "fwd.example", "arc2", fk, "fwd.example")
	if !bytes.Contains(twice, []byte("cv=pass")) {
		t.Fatalf("second seal is not cv=pass:\n%s", twice)
	}
	if r := w.check(twice, "x.example", "").ARC; r.Result != "pass" || r.Instances != 2 || r.Sealer != "fwd.example" {
		t.Fatalf("two seals: %+v", r)
	}

	for name, msg := range map[string][]byte{
		// The body changed after the last seal: its AMS fails.
		"body changed": bytes.Replace(sealed, []byte("Hello"), []byte("Jello"), 1),
		// A signed header changed.
		"subject changed": bytes.Replace(sealed, []byte("[list] hello"), []byte("[list] HELLO"), 1),
		// The AAR was rewritten: the seal covers it.
		"AAR changed": bytes.Replace(sealed, []byte("spf=pass"), []byte("spf=fail"), 1),
		// A set is gone.
		"set missing": dropField(twice, "ARC-Seal: i=1"),
		// The newest seal says the chain had already failed.
		"cv=fail": bytes.Replace(twice, []byte("cv=pass"), []byte("cv=fail"), 1),
	} {
		if r := w.check(msg, "x.example", "").ARC; r.Result != "fail" {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := w.check(orig, "x.example", "").ARC; r.Result != "none" {
		t.Errorf("no ARC fields: %+v", r)
	}
	// The sealer's key cannot be fetched: no pass.
	w.dns.Fail("arc._domainkey.list.example", dns.RcodeServerFailure)
	if r := w.check(sealed, "x.example", "").ARC; r.Result != "fail" {
		t.Errorf("key lookup failing: %+v", r)
	}
}

// dropField removes the field starting with prefix (and its folded lines).
func dropField(msg []byte, prefix string) []byte {
	var out bytes.Buffer
	hdrEnd := bytes.Index(msg, []byte("\r\n\r\n")) + 4
	for _, f := range ParseHeader(msg[:hdrEnd]) {
		if !strings.HasPrefix(f.Raw, prefix) {
			out.WriteString(f.Raw)
		}
	}
	out.Write(msg[hdrEnd-2:])
	return out.Bytes()
}
