package mtasts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/config"
)

// Published is the policy this server publishes for its domains.
type Published struct {
	Mode   Mode
	MX     []string // patterns, as the policy lists them
	MaxAge time.Duration
}

// Text renders the policy file (RFC 8461 section 3.2), CRLF-terminated
// lines with the version first.
func (p Published) Text() string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\n")
	fmt.Fprintf(&b, "mode: %s\r\n", p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\r\n", strings.ToLower(strings.TrimSuffix(mx, ".")))
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", int64(p.MaxAge/time.Second))
	return b.String()
}

// ID is the policy's id for the _mta-sts TXT record: derived from the
// policy's text, so that it changes exactly when the policy does and
// senders fetch it again (RFC 8461 section 3.1), with nothing to store.
func (p Published) ID() string {
	sum := sha256.Sum256([]byte(p.Text()))
	return hex.EncodeToString(sum[:10]) // 20 characters of the 32 allowed
}

// Record is the _mta-sts TXT record's value.
func (p Published) Record() string { return "v=STSv1; id=" + p.ID() }

// Hosted reports whether domain (lower case) is one of ours.
type Hosted func(ctx context.Context, domain string) (bool, error)

// Handler serves the policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt
// for every domain hosted reports as ours, and 404 for other hosts, so that
// the policy of a domain we do not serve is never claimed.
func Handler(p Published, hosted Hosted) http.Handler {
	text := p.Text()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		domain, ok := strings.CutPrefix(host, "mta-sts.")
		if !ok || !validHost(domain) {
			http.NotFound(w, r)
			return
		}
		ours, err := hosted(r.Context(), domain)
		if err != nil {
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		if !ours {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(text)))
		// RFC 8461 section 3.3: senders ignore HTTP caching; say so
		// anyway for proxies in between.
		w.Header().Set("Cache-Control", "no-cache")
		w.Write([]byte(text))
	})
}

// FromConfig is the policy the configuration describes: [mta_sts], its mx
// list defaulting to the hostname.
func FromConfig(c config.Config) Published {
	mx := c.MTASTS.MX
	if len(mx) == 0 {
		mx = []string{c.Hostname}
	}
	return Published{Mode: Mode(c.MTASTS.Mode), MX: mx, MaxAge: c.MTASTS.MaxAge.Std()}
}
