package selfcheck

import (
	"encoding/pem"
	"testing"
)

// FuzzParseChain: whatever a certificate file holds, parseChain returns
// certificates or an error, never a crash.
func FuzzParseChain(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("key")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		chain, err := parseChain(data, "fuzz")
		if err == nil && len(chain) == 0 {
			t.Fatal("no certificates and no error")
		}
		for _, c := range chain {
			if c == nil {
				t.Fatal("nil certificate in the chain")
			}
		}
	})
}
