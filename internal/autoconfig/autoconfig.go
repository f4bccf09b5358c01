// Package autoconfig answers the questions mail clients ask when they set
// themselves up from nothing but an email address and a password.
//
// Three families of clients ask three different ways:
//
//   - Thunderbird (and Thunderbird for Android, Evolution, KMail) fetch
//     Mozilla's "clientConfig" file, version 1.1, from
//     https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml or
//     https://autoconfig.<domain>/mail/config-v1.1.xml.
//   - Outlook posts a Plain Old XML (POX) Autodiscover request, as described
//     in [MS-OXDSCLI], to https://<domain>/autodiscover/autodiscover.xml or
//     https://autodiscover.<domain>/autodiscover/autodiscover.xml.
//   - Apple Mail on iOS and macOS has nothing to ask. It installs a
//     configuration profile (a .mobileconfig file) that the user downloads.
//     The web interface hands the profile out after login through
//     [Handler.MobileConfig].
//
// A [Handler] serves the first two. [Handler.MobileConfig] builds the third,
// and [Handler.ClientSettings] lists the same settings for a page that people
// read. All of them describe one [Server], and none contains a secret. The
// user name is always the full address, and the only authentication is a
// password sent inside TLS: implicit TLS, or a connection upgraded with
// STARTTLS.
package autoconfig

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"mailroom/internal/address"
)

// Values of [Endpoint.Security].
const (
	SecurityTLS      = "tls"      // TLS from the first byte (implicit TLS, RFC 8314)
	SecurityStartTLS = "starttls" // a plain connection upgraded with STARTTLS
)

// An Endpoint is one port that a protocol listens on.
type Endpoint struct {
	Port     int
	Security string // SecurityTLS or SecurityStartTLS
}

// Server describes what clients should connect to.
type Server struct {
	Hostname string // the name in the TLS certificate, such as mail.example.org

	// The endpoints of each protocol, in order of preference. A protocol with
	// no endpoints is switched off and is left out of every answer.
	IMAP, POP3, Submission []Endpoint

	DisplayName string // the name of the service, such as "Example mail"; optional
}

// A Lookup reports whether domain is one of the mail domains that this server
// hosts. The domain is in lower case. The Handler answers "not found" for
// other domains, so that clients go on to their next source of settings. A
// Handler does not log a Lookup error: it only answers with a server error.
type Lookup func(ctx context.Context, domain string) (bool, error)

// Limits on input. An address can be at most 254 octets long (RFC 5321
// 4.5.3.1.3: a path of 256 octets, minus the angle brackets).
const (
	maxAddressLen     = 254
	maxQueryLen       = 1024
	maxAccountNameLen = 256
)

// A Handler serves the Thunderbird and Outlook configuration documents:
//
//	GET  /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=...
//	GET  /mail/config-v1.1.xml                     (Host autoconfig.<domain>)
//	POST /autodiscover/autodiscover.xml            (the path in any case)
//
// It answers 404 Not Found for every other path. Mount it on both the HTTP
// and the HTTPS listener, because Thunderbird also tries
// http://autoconfig.<domain>.
// A Handler can be used by several goroutines at the same time.
type Handler struct {
	srv      Server
	isLocal  Lookup
	complete bool   // there is something to receive with and to send with
	serverID string // the Id attribute of Autodiscover errors
}

// New returns a Handler that describes srv and asks isLocalDomain which
// domains it serves. New copies srv, so later changes to its slices have no
// effect.
//
// New panics if isLocalDomain is nil, if srv.Hostname is not a domain name,
// or if an endpoint has a port outside 1-65535 or an unknown Security value.
// These are mistakes in the program, not in a request.
func New(srv Server, isLocalDomain Lookup) *Handler {
	if isLocalDomain == nil {
		panic("autoconfig: New with a nil Lookup")
	}
	host, err := address.ParseDomain(srv.Hostname)
	if err != nil {
		panic(fmt.Sprintf("autoconfig: Server.Hostname: %v", err))
	}
	srv.Hostname = host
	srv.IMAP = checkEndpoints("IMAP", srv.IMAP)
	srv.POP3 = checkEndpoints("POP3", srv.POP3)
	srv.Submission = checkEndpoints("Submission", srv.Submission)

	// Exchange puts a hash of its own host name into the Id attribute of its
	// errors. This does the same, which keeps the answer stable across
	// restarts and reveals nothing that the Hostname does not.
	id := fnv.New32a()
	id.Write([]byte(host))

	return &Handler{
		srv:      srv,
		isLocal:  isLocalDomain,
		complete: len(srv.IMAP)+len(srv.POP3) > 0 && len(srv.Submission) > 0,
		serverID: strconv.FormatUint(uint64(id.Sum32()), 10),
	}
}

func checkEndpoints(proto string, eps []Endpoint) []Endpoint {
	for _, e := range eps {
		if e.Port < 1 || e.Port > 65535 {
			panic(fmt.Sprintf("autoconfig: %s endpoint: port %d out of range", proto, e.Port))
		}
		if e.Security != SecurityTLS && e.Security != SecurityStartTLS {
			panic(fmt.Sprintf("autoconfig: %s endpoint %d: Security %q, want %q or %q",
				proto, e.Port, e.Security, SecurityTLS, SecurityStartTLS))
		}
	}
	// Copy the slice, so that the caller cannot change it under a running
	// Handler.
	return append([]Endpoint(nil), eps...)
}

// ServeHTTP implements [http.Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer has an exact Content-Type. This keeps a browser from
	// deciding that a document which contains user input is HTML.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch p := r.URL.Path; {
	case p == wellKnownPath || p == autoconfigPath:
		h.serveClientConfig(w, r)
	case strings.EqualFold(p, autodiscoverPath):
		// Outlook writes /Autodiscover/Autodiscover.xml, and other clients
		// write it in lower case. Exchange runs on IIS, which ignores case,
		// so clients have never needed to agree on one spelling.
		h.serveAutodiscover(w, r)
	default:
		http.NotFound(w, r)
	}
}

// A Setting is one server that a mail client should be configured with. All
// its fields are plain text for a page that people read.
type Setting struct {
	Protocol string // "IMAP", "POP3" or "SMTP"
	Host     string
	Port     int
	Security string // "SSL/TLS" or "STARTTLS", the labels that mail clients use
	Username string
}

// ClientSettings returns the settings for email, which is the account name
// and therefore also the user name. They are in order: IMAP, then POP3, then
// SMTP submission, and within each protocol in the order of preference given
// to [New]. Protocols that are switched off are left out. The password is
// entered the ordinary way, without any special authentication method.
func (h *Handler) ClientSettings(email string) []Setting {
	var out []Setting
	add := func(proto string, eps []Endpoint) {
		for _, e := range eps {
			label := "SSL/TLS"
			if e.Security == SecurityStartTLS {
				label = "STARTTLS"
			}
			out = append(out, Setting{Protocol: proto, Host: h.srv.Hostname, Port: e.Port, Security: label, Username: email})
		}
	}
	add("IMAP", h.srv.IMAP)
	add("POP3", h.srv.POP3)
	add("SMTP", h.srv.Submission)
	return out
}

// preferred returns the endpoint to use when a format has room for only one
// endpoint per protocol (Autodiscover and Apple profiles). It is the first
// endpoint with implicit TLS. Failing that, it is the first endpoint.
//
// Implicit TLS is the one choice that every version of these clients
// understands in the same way: SSL "on" in Autodiscover, UseSSL true in a
// profile. RFC 8314 section 3 also recommends it over STARTTLS.
func preferred(eps []Endpoint) (Endpoint, bool) {
	for _, e := range eps {
		if e.Security == SecurityTLS {
			return e, true
		}
	}
	if len(eps) == 0 {
		return Endpoint{}, false
	}
	return eps[0], true
}

// parseAddress parses an address that a client sent, after limiting its
// length.
func parseAddress(s string) (address.Address, error) {
	if len(s) > maxAddressLen {
		return address.Address{}, fmt.Errorf("address longer than %d octets", maxAddressLen)
	}
	return address.Parse(s)
}
