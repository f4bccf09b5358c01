package autoconfig

import (
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"mailroom/internal/address"
)

// The two places where Thunderbird looks for the configuration file of a
// domain. The format and the lookup order are described in
// https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat.
const (
	wellKnownPath  = "/.well-known/autoconfig/mail/config-v1.1.xml"
	autoconfigPath = "/mail/config-v1.1.xml" // on host autoconfig.<domain>
)

// The clientConfig document, version 1.1. Only the elements that Mailroom
// needs are included.
type clientConfig struct {
	XMLName  xml.Name      `xml:"clientConfig"`
	Version  string        `xml:"version,attr"`
	Provider emailProvider `xml:"emailProvider"`
}

type emailProvider struct {
	ID               string         `xml:"id,attr"`
	Domain           []string       `xml:"domain"`
	DisplayName      string         `xml:"displayName"`
	DisplayShortName string         `xml:"displayShortName"`
	Incoming         []clientServer `xml:"incomingServer"`
	Outgoing         []clientServer `xml:"outgoingServer"`
}

type clientServer struct {
	Type           string `xml:"type,attr"` // imap, pop3, smtp
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"` // SSL or STARTTLS
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

// serveClientConfig answers Thunderbird.
//
// The document contains no account data: the user name is the placeholder
// %EMAILADDRESS%, which the client fills in. Its content depends only on
// the domain, which is in the URL (emailaddress) or in the Host header. So a
// successful answer may be cached, even by shared caches, like any other
// static file. Errors are not cached: a domain that is added later should
// work at once.
func (h *Handler) serveClientConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	domain, err := clientConfigDomain(r)
	if err != nil {
		plainError(w, "autoconfig: "+err.Error(), http.StatusBadRequest)
		return
	}
	ok, err := h.isLocal(r.Context(), domain)
	if err != nil {
		plainError(w, "autoconfig: domain lookup failed", http.StatusInternalServerError)
		return
	}
	// Thunderbird needs a server to receive from and one to send to.
	// Without both, the document would be of no use. "Not found" sends
	// Thunderbird on to its other methods, such as the ISPDB and guessing.
	if !ok || !h.complete {
		plainError(w, "autoconfig: no configuration for this domain", http.StatusNotFound)
		return
	}
	body, err := h.clientConfig(domain)
	if err != nil {
		plainError(w, "autoconfig: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/xml; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// clientConfigDomain returns the domain to describe. The domain comes from
// the emailaddress parameter when the client sends one. Thunderbird sends
// it to both URLs. Otherwise the domain comes from the Host header, without
// the "autoconfig." prefix.
func clientConfigDomain(r *http.Request) (string, error) {
	if len(r.URL.RawQuery) > maxQueryLen {
		return "", fmt.Errorf("query longer than %d octets", maxQueryLen)
	}
	if v, ok := r.URL.Query()["emailaddress"]; ok {
		a, err := parseAddress(v[0])
		if err != nil {
			return "", fmt.Errorf("emailaddress: %w", err)
		}
		return a.Domain, nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	d, err := address.ParseDomain(strings.TrimPrefix(host, "autoconfig."))
	if err != nil {
		return "", fmt.Errorf("no emailaddress parameter, and the Host header: %w", err)
	}
	return d, nil
}

// clientConfig builds the clientConfig document for domain. The servers are
// listed in order of preference. The wiki page says that clients use the
// first one of each kind and keep the others as alternatives. IMAP comes
// before POP3, which expresses the usual preference for IMAP.
func (h *Handler) clientConfig(domain string) ([]byte, error) {
	name := h.srv.DisplayName
	if name == "" {
		name = domain
	}
	p := emailProvider{
		ID:               domain,
		Domain:           []string{domain},
		DisplayName:      name,
		DisplayShortName: domain,
	}
	for _, e := range h.srv.IMAP {
		p.Incoming = append(p.Incoming, h.clientServer("imap", e))
	}
	for _, e := range h.srv.POP3 {
		p.Incoming = append(p.Incoming, h.clientServer("pop3", e))
	}
	for _, e := range h.srv.Submission {
		p.Outgoing = append(p.Outgoing, h.clientServer("smtp", e))
	}
	out, err := xml.MarshalIndent(clientConfig{Version: "1.1", Provider: p}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding clientConfig for %s: %w", domain, err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func (h *Handler) clientServer(typ string, e Endpoint) clientServer {
	// "SSL" means TLS on a port for TLS, and "STARTTLS" means an upgrade on
	// the plain port. The wiki says that clients then require TLS, so the
	// password is never sent in the clear ("password-cleartext" names the
	// SASL PLAIN/LOGIN kind of exchange, not a connection without TLS).
	socket := "SSL"
	if e.Security == SecurityStartTLS {
		socket = "STARTTLS"
	}
	return clientServer{
		Type:           typ,
		Hostname:       h.srv.Hostname,
		Port:           e.Port,
		SocketType:     socket,
		Username:       "%EMAILADDRESS%",
		Authentication: "password-cleartext",
	}
}

// plainError writes a short text error that no cache may keep.
func plainError(w http.ResponseWriter, msg string, code int) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, code)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	plainError(w, "method not allowed", http.StatusMethodNotAllowed)
}
