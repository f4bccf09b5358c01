package remote

import (
	"crypto/tls"
	"fmt"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

func TestSmarthost(t *testing.T) {
	t.Parallel()
	const user, pass = "relay-user", "s3cret"
	for _, tc := range []struct {
		name     string
		server   func(l *lab, be *backend) // starts the relay on 127.0.0.2
		creds    bool
		implicit bool
		want     Result
	}{
		{
			name: "AUTH PLAIN over STARTTLS",
			server: func(l *lab, be *backend) {
				be.user, be.pass = user, pass
				l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.TLSConfig = l.ca.issue(l.t, false, "smart.test") })
			},
			creds: true,
			want:  Result{Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "smart.test"},
		},
		{
			name: "AUTH LOGIN over STARTTLS",
			server: func(l *lab, be *backend) {
				be.user, be.pass, be.login = user, pass, true
				l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.TLSConfig = l.ca.issue(l.t, false, "smart.test") })
			},
			creds: true,
			want:  Result{Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "smart.test"},
		},
		{
			name: "wrong password",
			server: func(l *lab, be *backend) {
				be.user, be.pass = user, "other"
				l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.TLSConfig = l.ca.issue(l.t, false, "smart.test") })
			},
			creds: true,
			want:  Result{Permanent: true, Code: 535, Enhanced: "5.7.8", RemoteMTA: "smart.test"},
		},
		{
			name: "no AUTH offered",
			server: func(l *lab, be *backend) {
				l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.TLSConfig = l.ca.issue(l.t, false, "smart.test") })
			},
			creds: true,
			want:  Result{Enhanced: "4.7.0", Text: "offers no AUTH"},
		},
		{
			name: "no STARTTLS",
			server: func(l *lab, be *backend) {
				be.user, be.pass = user, pass
				l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.AllowInsecureAuth = true })
			},
			creds: true,
			want:  Result{Enhanced: "4.7.0", Text: "does not offer STARTTLS"},
		},
		{
			name: "certificate not trusted",
			server: func(l *lab, be *backend) {
				l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.TLSConfig = l.ca.issue(l.t, true, "smart.test") })
			},
			want: Result{Enhanced: "4.7.0", Text: "certificate"},
		},
		{
			name: "certificate for another name",
			server: func(l *lab, be *backend) {
				l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.TLSConfig = l.ca.issue(l.t, false, "other.test") })
			},
			want: Result{Enhanced: "4.7.0", Text: "certificate"},
		},
		{
			name: "implicit TLS without credentials",
			server: func(l *lab, be *backend) {
				s := gosmtp.NewServer(be)
				s.Domain = "smart.test"
				go s.Serve(tls.NewListener(l.listen("127.0.0.2"), l.ca.issue(l.t, false, "smart.test")))
				l.t.Cleanup(func() { s.Close() })
			},
			implicit: true,
			want:     Result{Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "smart.test"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.dns.addA("smart.test", "127.0.0.2")
			be := &backend{}
			tc.server(l, be)
			sh := &Smarthost{Addr: fmt.Sprintf("smart.test:%d", l.port), ImplicitTLS: tc.implicit}
			if tc.creds {
				sh.Username, sh.Password = user, pass
			}
			c := l.client(func(cfg *Config) { cfg.Smarthost = sh })
			// Recipients of any domain go to the smarthost; nothing
			// asks for their MX.
			m := message(testBody, "a@dest.test", "b@elsewhere.test")
			for _, r := range deliver(t, c, "dest.test", m) {
				tc.want.Rcpt = r.Rcpt
				checkResult(t, r, tc.want)
				if tc.want.Delivered && !r.TLS {
					t.Error("delivered without TLS")
				}
			}
			if l.dns.asked("MX", "dest.test") {
				t.Error("MX lookup with a smarthost")
			}
			msgs := be.messages()
			if !tc.want.Delivered {
				if len(msgs) != 0 {
					t.Errorf("relay got %d messages", len(msgs))
				}
				return
			}
			if len(msgs) != 1 || !msgs[0].tls || len(msgs[0].rcpts) != 2 {
				t.Fatalf("relay got %+v", msgs)
			}
			if tc.creds && msgs[0].authUser != user {
				t.Errorf("authenticated as %q", msgs[0].authUser)
			}
		})
	}
}

func TestSmarthostUnresolvable(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c := l.client(func(cfg *Config) { cfg.Smarthost = &Smarthost{Addr: "nowhere.test:587"} })
	// A missing smarthost is a configuration problem: keep the mail.
	checkResult(t, deliver(t, c, "dest.test", message(testBody, "a@dest.test"))[0],
		Result{Rcpt: "a@dest.test", Enhanced: "4.4.3", Text: "smarthost"})
}
