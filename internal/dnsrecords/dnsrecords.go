// Package dnsrecords lists the DNS records an operator must publish for a
// mail domain served by Mailroom: where its mail goes (MX), who may send
// it (SPF, DKIM, DMARC), and where mail clients find the server (SRV and
// the autoconfiguration names), each with a short reason.
//
// It computes the records only; it performs no DNS queries.
package dnsrecords

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/mtasts"
)

// Input describes a mail domain and the server that handles it.
type Input struct {
	Domain     string           // the mail domain, e.g. example.org (A-label)
	Hostname   string           // this server's name, e.g. mail.example.org (A-label)
	DKIM       []dkim.TXTRecord // from dkim.Keys.Records
	AdminEmail string           // where DMARC aggregate reports go; may be ""
	// MTASTS, if set, is the MTA-STS policy served for the domain: its
	// records are listed (transport.go).
	MTASTS *mtasts.Published
	// TLSRPTEmail, if set, is where TLS-RPT reports for the domain go.
	TLSRPTEmail string
	// Ports are the ports the client services listen on (ListenPorts);
	// nil means the standard ports of every service.
	Ports *Ports
}

// Ports are the ports mail clients reach the services on; 0 means the
// service is off.
type Ports struct {
	Submissions, Submission, IMAPS, IMAP, POP3S, POP3, HTTPS int
	ManageSieve                                              int
}

// StandardPorts are the ports of RFC 6186 and RFC 8314, and ManageSieve's
// of RFC 5804.
func StandardPorts() Ports {
	return Ports{Submissions: 465, Submission: 587, IMAPS: 993, IMAP: 143, POP3S: 995, POP3: 110, HTTPS: 443, ManageSieve: 4190}
}

// ListenPorts are the ports of the configured listeners: what clients must
// use (a server behind port forwarding binds the public ports inside too).
// An empty address turns the service off; one without a fixed port
// (":0") stands for the service's standard port.
func ListenPorts(l config.Listen) Ports {
	std := StandardPorts()
	port := func(addr string, standard int) int {
		if addr == "" {
			return 0
		}
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
				return n
			}
		}
		return standard
	}
	return Ports{
		Submissions: port(l.Submissions, std.Submissions),
		Submission:  port(l.Submission, std.Submission),
		IMAPS:       port(l.IMAPS, std.IMAPS),
		IMAP:        port(l.IMAP, std.IMAP),
		POP3S:       port(l.POP3S, std.POP3S),
		POP3:        port(l.POP3, std.POP3),
		HTTPS:       port(l.HTTPS, std.HTTPS),
		ManageSieve: port(l.ManageSieve, std.ManageSieve),
	}
}

// FromConfig is the Input for domain as this server's configuration serves
// it (what `mailroom domain dns` and the admin DNS page print): the
// configured ports, reports to postmaster@domain, and the MTA-STS policy
// when there is an HTTPS listener to serve it from.
func FromConfig(cfg config.Config, domain string, keys []dkim.TXTRecord) Input {
	ports := ListenPorts(cfg.Listen)
	in := Input{
		Domain:      domain,
		Hostname:    cfg.Hostname,
		DKIM:        keys,
		AdminEmail:  "postmaster@" + domain,
		TLSRPTEmail: "postmaster@" + domain,
		Ports:       &ports,
	}
	if cfg.Listen.HTTPS != "" {
		p := mtasts.FromConfig(cfg)
		in.MTASTS = &p
	}
	return in
}

// A Record is one DNS record to publish.
type Record struct {
	Name string // the owner name, fully qualified, without a trailing dot
	Type string // "MX", "TXT", "SRV", "CNAME", "A", "AAAA" or "PTR"
	// Value is the record data in zone-file form, host names with a
	// trailing dot, except that a TXT value is the bare text: Format
	// quotes and splits it.
	Value string
	TTL   int    // seconds
	Why   string // one or two plain sentences for the operator

	// Placeholder marks a record whose Name or Value is a description in
	// angle brackets that the operator must replace, such as the server's
	// IP address, which Mailroom cannot know for sure behind NAT.
	Placeholder bool
}

// ttl suits records that rarely change yet may need fixing soon after
// they are first published.
const ttl = 3600

// For returns the records to publish for in.Domain. It trusts its input:
// callers validate the names first.
func For(in Input) []Record {
	domain := strings.ToLower(strings.TrimSuffix(in.Domain, "."))
	host := strings.ToLower(strings.TrimSuffix(in.Hostname, "."))
	target := host + "."
	ports := StandardPorts()
	if in.Ports != nil {
		ports = *in.Ports
	}
	var recs []Record
	add := func(name, typ, value, why string) {
		recs = append(recs, Record{Name: name, Type: typ, Value: value, TTL: ttl, Why: why})
	}

	// The server's own address records come first when they belong in
	// this zone, since everything below points at the host name.
	if host == domain || strings.HasSuffix(host, "."+domain) {
		placeholder := func(name, typ, value, why string) {
			add(name, typ, value, why)
			recs[len(recs)-1].Placeholder = true
		}
		placeholder(host, "A", "<this server's IPv4 address>",
			"The address of this server, which all the records below point at. "+
				"Replace the placeholder with the server's public IPv4 address.")
		placeholder(host, "AAAA", "<this server's IPv6 address>",
			"The IPv6 address of this server. "+
				"Replace the placeholder with the server's public IPv6 address, or leave the record out if it has none.")
		placeholder("<this server's IP address, reversed>", "PTR", target,
			"Reverse DNS: many receivers refuse mail from an address whose PTR record does not name "+host+". "+
				"Set it for each of the server's addresses at whoever provides them, usually the hosting company, not in this zone.")
	}

	add(domain, "MX", "10 "+target,
		"Mail for "+domain+" is delivered to this server.")
	add(domain, "TXT", "v=spf1 mx ~all",
		"SPF: only the hosts named in the MX records may send mail from "+domain+". "+
			"~all asks receivers to treat mail from other hosts as suspect; -all asks them to reject it, which is safe once no other service sends mail as "+domain+".")

	for _, r := range in.DKIM {
		why := "DKIM: the public key receivers use to check the signatures this server puts on mail from " + domain + "."
		switch {
		case strings.Contains(r.Value, "k=ed25519"):
			why = "DKIM: the Ed25519 public key receivers use to check the signatures this server puts on mail from " + domain + "."
		case strings.Contains(r.Value, "k=rsa"):
			why = "DKIM: the RSA public key receivers use to check the signatures this server puts on mail from " + domain + "; " +
				"it is there for receivers that do not know Ed25519 yet."
		}
		add(r.Name, "TXT", r.Value, why)
	}

	dmarc := "v=DMARC1; p=quarantine; adkim=s; aspf=s"
	why := "DMARC: receivers should put mail that claims to come from " + domain +
		" but passes neither SPF nor DKIM for " + domain + " itself in the spam folder"
	if in.AdminEmail != "" {
		dmarc += "; rua=mailto:" + dmarcURIEscape(in.AdminEmail)
		why += ", and send daily reports to " + in.AdminEmail
	}
	why += ". If other services also send mail as " + domain + ", start with p=none, which only reports, until they pass."
	if _, rdomain, ok := strings.Cut(in.AdminEmail, "@"); ok && !strings.EqualFold(rdomain, domain) {
		// RFC 7489 §7.1: a domain must agree to receive reports for another.
		why += " Reports go to another domain only if it publishes the TXT record " +
			domain + "._report._dmarc." + strings.ToLower(rdomain) + " with the value v=DMARC1."
	}
	add("_dmarc."+domain, "TXT", dmarc, why)

	// RFC 6186 (and RFC 8314 for submissions) lets mail clients find the
	// server from the address alone. Lower priority numbers win, so
	// clients that speak both prefer IMAP, which keeps mail on the server
	// and in sync across devices, to POP3.
	for _, s := range []struct {
		service  string
		priority int
		port     int
		why      string
	}{
		{"_submissions", 0, ports.Submissions, "Tells mail clients to send mail through this server on port 465 (TLS from the start)."},
		{"_submission", 0, ports.Submission, "Tells mail clients to send mail through this server on port 587 (STARTTLS)."},
		{"_imaps", 0, ports.IMAPS, "Tells mail clients to read mail with IMAP on port 993 (TLS from the start)."},
		{"_imap", 0, ports.IMAP, "Tells mail clients to read mail with IMAP on port 143 (STARTTLS)."},
		{"_pop3s", 10, ports.POP3S, "Tells mail clients they may read mail with POP3 on port 995 (TLS from the start); priority 10 makes those that support both prefer IMAP, which keeps mail in sync across devices."},
		{"_pop3", 10, ports.POP3, "Tells mail clients they may read mail with POP3 on port 110 (STARTTLS); priority 10 makes those that support both prefer IMAP, which keeps mail in sync across devices."},
		// RFC 5804 1.8: where ManageSieve clients find the server.
		{"_sieve", 0, ports.ManageSieve, fmt.Sprintf("Tells filter editors (ManageSieve clients such as Thunderbird's Sieve add-on) to manage the mail filters on port %d.", ports.ManageSieve)},
	} {
		if s.port == 0 {
			// RFC 2782 (and RFC 6186 4): target "." says the service is decidedly not
			// available, so clients do not guess at a port.
			add(s.service+"._tcp."+domain, "SRV", "0 0 0 .", "This service is switched off on this server; the record tells mail clients not to try it.")
			continue
		}
		add(s.service+"._tcp."+domain, "SRV", fmt.Sprintf("%d 1 %d %s", s.priority, s.port, target), s.why)
	}

	add("autoconfig."+domain, "CNAME", target,
		"Thunderbird and other clients fetch their settings from https://autoconfig."+domain+"/; this name leads them to this server.")
	add("autodiscover."+domain, "CNAME", target,
		"Outlook fetches its settings from https://autodiscover."+domain+"/; this name leads it to this server.")
	if ports.HTTPS != 0 {
		add("_autodiscover._tcp."+domain, "SRV", fmt.Sprintf("0 1 %d %s", ports.HTTPS, target),
			"Outlook falls back to this record to find its settings on this server when autodiscover."+domain+" does not answer.")
		// RFC 8620 2.2: JMAP clients (web and mobile apps) look the
		// server up by this record, then fetch /.well-known/jmap there.
		add("_jmap._tcp."+domain, "SRV", fmt.Sprintf("0 1 %d %s", ports.HTTPS, target),
			"Tells JMAP apps (web and mobile mail apps) to find this server's JMAP API on port "+fmt.Sprint(ports.HTTPS)+"; they read https://"+strings.TrimSuffix(target, ".")+"/.well-known/jmap there.")
	}
	return append(recs, transportRecords(in, domain, target)...)
}

// dmarcURIEscape percent-encodes the characters that would end a URI in a
// DMARC rua list: "," separates URIs, "!" starts a size limit, and ";"
// ends the tag (RFC 7489 §6.4).
func dmarcURIEscape(s string) string {
	return strings.NewReplacer("%", "%25", ",", "%2C", "!", "%21", ";", "%3B", " ", "%20").Replace(s)
}

// Format writes recs as zone-file lines, each preceded by its Why as a
// comment. Names are fully qualified, with a trailing dot. TXT values are
// quoted and split into strings of at most 255 octets, the most one
// string can hold (RFC 1035 §3.3). Placeholder records are written as
// comments, so the output loads into a name server as it is.
func Format(w io.Writer, recs []Record) error {
	var b bytes.Buffer
	for i, r := range recs {
		if i > 0 {
			b.WriteByte('\n')
		}
		writeComment(&b, r.Why)
		if r.Placeholder {
			b.WriteString("; ")
		}
		b.WriteString(fqdn(r.Name))
		b.WriteByte('\t')
		if r.TTL > 0 {
			fmt.Fprintf(&b, "%d\t", r.TTL)
		}
		b.WriteString("IN\t")
		b.WriteString(r.Type)
		b.WriteByte('\t')
		if r.Type == "TXT" {
			b.WriteString(quoteTXT(r.Value))
		} else {
			b.WriteString(r.Value)
		}
		b.WriteByte('\n')
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("dnsrecords: writing records: %w", err)
	}
	return nil
}

func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// writeComment writes text as "; " comment lines of at most about 76
// columns, breaking between words.
func writeComment(b *bytes.Buffer, text string) {
	const width = 76
	n := 0
	for _, word := range strings.Fields(text) {
		switch {
		case n == 0:
			b.WriteString(";")
			n = 1
		case n+1+len(word) > width:
			b.WriteString("\n;")
			n = 1
		}
		b.WriteByte(' ')
		b.WriteString(word)
		n += 1 + len(word)
	}
	if n > 0 {
		b.WriteByte('\n')
	}
}

// maxTXTString is the most octets one character-string of a TXT record
// holds: its length is a single octet (RFC 1035 §3.3).
const maxTXTString = 255

// quoteTXT returns s as a sequence of quoted zone-file strings, each
// holding at most 255 octets of s. Receivers join the strings of a record
// again with nothing between them (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
func quoteTXT(s string) string {
	var b strings.Builder
	for {
		chunk := s[:min(len(s), maxTXTString)]
		s = s[len(chunk):]
		b.WriteByte('"')
		for i := 0; i < len(chunk); i++ {
			switch c := chunk[i]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c > 0x7e:
				// RFC 1035 §5.1: \DDD is an octet in decimal.
				fmt.Fprintf(&b, "\\%03d", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		if s == "" {
			return b.String()
		}
		b.WriteByte(' ')
	}
}
