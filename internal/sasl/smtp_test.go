package sasl

import (
	"io"
	"net"
	"net/netip"
	"testing"

	gosasl "github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/xdg-go/scram"

	"mailroom/internal/auth"
)

// These tests run the mechanisms inside a real go-smtp server, spoken to by
// go-smtp's client over loopback TCP, to check the framing assumptions made
// in scram.go (server-final as a challenge, then an empty response).

type smtpSession struct {
	h         *harness
	t         *testing.T
	principal chan auth.Principal
}

func (s *smtpSession) AuthMechanisms() []string { return []string{PLAIN, LOGIN, SCRAMSHA256} }

func (s *smtpSession) Auth(mech string) (gosasl.Server, error) {
	v := NewVerifier(s.h.auth, s.h.store, netip.MustParseAddr("127.0.0.1"), "submission")
	return NewServer(s.t.Context(), mech, v, func(p auth.Principal) error {
		s.principal <- p
		return nil
	})
}

func (s *smtpSession) Reset()                               {}
func (s *smtpSession) Logout() error                        { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

// scramClient adapts an xdg-go/scram client conversation to go-sasl.
type scramClient struct{ conv *scram.ClientConversation }

func (c scramClient) Start() (string, []byte, error) {
	first, err := c.conv.Step("")
	return SCRAMSHA256, []byte(first), err
}

func (c scramClient) Next(challenge []byte) ([]byte, error) {
	// After verifying server-final the conversation returns "", which goes
	// out as the empty acknowledgement.
	resp, err := c.conv.Step(string(challenge))
	return []byte(resp), err
}

func TestOverSMTP(t *testing.T) {
	h := newHarness(t, nil)
	principals := make(chan auth.Principal, 10)
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{h: h, t: t, principal: principals}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	newSCRAM := func(password string) gosasl.Client {
		c, err := scram.SHA256.NewClient("alice@example.com", password, "")
		if err != nil {
			t.Fatal(err)
		}
		return scramClient{c.NewConversation()}
	}
	tests := []struct {
		name   string
		client gosasl.Client
		ok     bool
	}{
		{"PLAIN", gosasl.NewPlainClient("", "alice@example.com", alicePW), true},
		{"LOGIN", gosasl.NewLoginClient("alice@example.com", alicePW), true},
		{"SCRAM-SHA-256", newSCRAM(alicePW), true},
		{"SCRAM-SHA-256 wrong password", newSCRAM("wrong-password"), false},
		{"PLAIN wrong password", gosasl.NewPlainClient("", "alice@example.com", "wrong-password"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := smtp.Dial(ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("client.example"); err != nil {
				t.Fatal(err)
			}
			err = c.Auth(tc.client)
			if !tc.ok {
				if err == nil {
					t.Fatal("AUTH succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("AUTH: %v", err)
			}
			if p := <-principals; p != alice {
				t.Fatalf("authenticated as %v", p)
			}
		})
	}
}
