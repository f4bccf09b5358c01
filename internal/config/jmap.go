package config

import (
	"fmt"
	"net/url"
)

// JMAP configures the JMAP API (RFC 8620/8621) the web listeners serve.
type JMAP struct {
	// CORSOrigins are the origins ("https://app.example.org") of web
	// applications on other hosts allowed to call the API from a browser.
	// Empty: only pages of this server's own origin can.
	CORSOrigins []string `toml:"cors_origins"`
}

func (j *JMAP) validate() error {
	for _, o := range j.CORSOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return &Error{Key: "jmap.cors_origins", Msg: fmt.Sprintf("%q is not an origin (scheme://host[:port])", o)}
		}
	}
	return nil
}
