package mailtest

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// dkimpy is Debian's python3-dkim, which scripts/install-test-deps.sh
// installs: an ARC implementation independent of ours.
const dkimpyPython = "/usr/bin/python3"

const arcSealScript = `
import sys, dkim
msg = open(sys.argv[1], 'rb').read()
key = open(sys.argv[2], 'rb').read()
hdrs = dkim.arc_sign(msg, sys.argv[4].encode(), sys.argv[3].encode(), key, sys.argv[5].encode(),
    include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])
if not hdrs:
    sys.exit("arc_sign produced nothing")
sys.stdout.buffer.write(b''.join(hdrs) + msg)
`

// ARCSeal adds an ARC set to msg as a forwarder would, with dkimpy's
// arc_sign: msg must carry an Authentication-Results field of srvID (the
// sealer's own verdict, copied into ARC-Authentication-Results). key
// signs for selector._domainkey.domain.
func ARCSeal(t testing.TB, msg []byte, domain, selector string, key *rsa.PrivateKey, srvID string) []byte {
	t.Helper()
	dir := t.TempDir()
	mf, kf := filepath.Join(dir, "msg"), filepath.Join(dir, "key")
	der := x509.MarshalPKCS1PrivateKey(key)
	if err := os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dkimpyPython, "-c", arcSealScript, mf, kf, domain, selector, srvID)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mailtest: dkimpy arc_sign (install python3-dkim and python3-authres: scripts/install-test-deps.sh): %v\n%s", err, stderr.String())
	}
	return out
}
