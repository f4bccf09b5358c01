package autoconfig

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The POX Autodiscover protocol, from [MS-OXDSCLI] and the "POX Autodiscover
// XML elements for Exchange" reference on learn.microsoft.com.
const (
	autodiscoverPath = "/autodiscover/autodiscover.xml" // matched in any case

	nsResponseRoot = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	nsOutlook      = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

	// A real request is about 400 octets, and the document nests three
	// levels deep. These limits leave room for clients that add elements,
	// while a hostile body meets an error early.
	maxRequestBody  = 64 << 10
	maxRequestDepth = 16
	maxSchemaLen    = 256
)

// Values of ErrorCode, from the ErrorCode element in [MS-OXDSCLI]. The Error
// element that holds it is a child of Response (section 2.2.4.1.1.3).
const (
	adErrNotFound   = 500 // the email address cannot be found
	adErrNoConfig   = 501 // the address is known but there is nothing to configure
	adErrInvalid    = 600 // the XML request was improperly formatted
	adErrNoProvider = 601 // no configuration of the requested type (schema)
	adErrInternal   = 603 // the server threw an internal error
)

// adTimeFormat is the format of the Time attribute of Error: the time of day,
// hours:minutes:seconds.fraction, as Exchange writes it.
const adTimeFormat = "15:04:05.0000000"

// The response document. The root element is in the responseschema/2006
// namespace. The Response element names the provider's namespace, which for
// Outlook is responseschema/2006a, and its children inherit that namespace.
type adDocument struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response adResponse
}

type adResponse struct {
	XMLName xml.Name   // Response, in nsOutlook or (for errors before a provider is chosen) in nsResponseRoot
	Account *adAccount `xml:"Account,omitempty"`
	Error   *adError   `xml:"Error,omitempty"`
}

type adAccount struct {
	AccountType string       `xml:"AccountType"`
	Action      string       `xml:"Action"`
	Protocol    []adProtocol `xml:"Protocol"`
}

// adProtocol holds the children of Protocol in the order that the POX
// reference lists them. Encryption is not in that list. [MS-OXDSCLI]
// 2.2.4.1.1.2.6.22 defines it for IMAP, POP3 and SMTP, so it sits next to
// the SSL element that it overrides.
type adProtocol struct {
	Type           string `xml:"Type"` // IMAP, POP3, SMTP
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	LoginName      string `xml:"LoginName"`
	DomainRequired string `xml:"DomainRequired"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	Encryption     string `xml:"Encryption"`
	AuthRequired   string `xml:"AuthRequired"`
}

type adError struct {
	Time      string `xml:"Time,attr"`
	ID        string `xml:"Id,attr"`
	ErrorCode int    `xml:"ErrorCode"`
	Message   string `xml:"Message"`
	DebugData string `xml:"DebugData"`
}

// serveAutodiscover answers Outlook.
//
// The answer names the user's address, so it is marked no-store. Errors
// that belong to Autodiscover are given as the schema defines them: an
// Error element with an ErrorCode, sent with status 200, as Exchange does.
// Only a body that is too large also gets an HTTP error status (413).
//
// A GET gets the same "600 Invalid Request" document that Exchange sends to
// a browser. Outlook sends a GET only when it probes
// http://autodiscover.<domain>/autodiscover/autodiscover.xml for a redirect
// (the HTTP redirect method of [MS-OXDISCO]). It follows a 302 answer and
// treats any other answer as "no redirect here", then goes on to the next
// method. So the error document costs Outlook nothing, every client has
// already met it from Exchange, and an administrator can check the URL in a
// browser. Methods other than GET, HEAD and POST get 405.
func (h *Handler) serveAutodiscover(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		h.writeAutodiscoverError(w, http.StatusOK, false, adErrInvalid, "Invalid Request")
		return
	default:
		methodNotAllowed(w, "GET, HEAD, POST")
		return
	}

	req, err := readAutodiscoverRequest(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		status := http.StatusOK
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		h.writeAutodiscoverError(w, status, false, adErrInvalid, "Invalid Request")
		return
	}
	// Outlook always names the schema that it wants. Clients that leave it
	// out get Outlook's schema, which is the only one Mailroom offers. Other
	// schemas, such as ActiveSync's mobilesync schema, get 601: there is no
	// provider for them.
	if schema := strings.TrimSpace(req.schema); schema != "" && schema != nsOutlook {
		h.writeAutodiscoverError(w, http.StatusOK, false, adErrNoProvider, "Provider is not available")
		return
	}
	addr, err := parseAddress(strings.TrimSpace(req.email))
	if err != nil {
		h.writeAutodiscoverError(w, http.StatusOK, true, adErrInvalid, "Invalid Request")
		return
	}
	ok, err := h.isLocal(r.Context(), addr.Domain)
	switch {
	case err != nil:
		h.writeAutodiscoverError(w, http.StatusOK, true, adErrInternal, "Internal Server Error")
		return
	case !ok:
		h.writeAutodiscoverError(w, http.StatusOK, true, adErrNotFound, "The e-mail address cannot be found.")
		return
	case !h.complete:
		h.writeAutodiscoverError(w, http.StatusOK, true, adErrNoConfig, "Bad Address")
		return
	}

	acct := &adAccount{AccountType: "email", Action: "settings"}
	for _, p := range []struct {
		typ string
		eps []Endpoint
	}{{"IMAP", h.srv.IMAP}, {"POP3", h.srv.POP3}, {"SMTP", h.srv.Submission}} {
		// A Protocol element cannot mark itself as an alternative to
		// another one. So each type gets only its preferred endpoint, and
		// the client has nothing to choose between.
		if e, ok := preferred(p.eps); ok {
			acct.Protocol = append(acct.Protocol, h.adProtocol(p.typ, e, addr.String()))
		}
	}
	h.writeAutodiscover(w, http.StatusOK, adResponse{XMLName: xml.Name{Space: nsOutlook, Local: "Response"}, Account: acct})
}

// adProtocol describes one endpoint. SSL "on" means that the logon must be
// secured. For a STARTTLS port, Encryption "TLS" tells Outlook 2010 and
// later to upgrade the plain connection instead of starting with TLS. For
// an implicit-TLS port, Encryption "SSL" says so explicitly. [MS-OXDSCLI]
// says that Encryption overrides SSL when both are present. Outlook 2007
// knows only SSL, and preferred keeps it from being sent to a STARTTLS
// port when an implicit-TLS port exists.
func (h *Handler) adProtocol(typ string, e Endpoint, login string) adProtocol {
	enc := "SSL"
	if e.Security == SecurityStartTLS {
		enc = "TLS"
	}
	return adProtocol{
		Type:           typ,
		Server:         h.srv.Hostname,
		Port:           e.Port,
		LoginName:      login,
		DomainRequired: "off", // the login is the whole address, not DOMAIN\user
		SPA:            "off", // no NTLM: the password goes in PLAIN/LOGIN inside TLS
		SSL:            "on",
		Encryption:     enc,
		AuthRequired:   "on",
	}
}

// writeAutodiscoverError writes an Error response. inProvider says whether
// Outlook's schema has been accepted. If it has, Response carries the
// Outlook namespace, as it does in answers from that provider. If it has
// not (the request could not be read, or it asked for another schema),
// Response stays in the root namespace, as in Exchange's "600 Invalid
// Request".
func (h *Handler) writeAutodiscoverError(w http.ResponseWriter, status int, inProvider bool, code int, msg string) {
	// The namespace is always given explicitly. An empty one would make
	// encoding/xml write xmlns="", which takes Response out of the root
	// namespace that it should inherit.
	resp := adResponse{XMLName: xml.Name{Space: nsResponseRoot, Local: "Response"}}
	if inProvider {
		resp.XMLName.Space = nsOutlook
	}
	resp.Error = &adError{
		Time:      time.Now().UTC().Format(adTimeFormat),
		ID:        h.serverID,
		ErrorCode: code,
		Message:   msg,
	}
	h.writeAutodiscover(w, status, resp)
}

func (h *Handler) writeAutodiscover(w http.ResponseWriter, status int, resp adResponse) {
	out, err := xml.MarshalIndent(adDocument{Response: resp}, "", "  ")
	if err != nil {
		plainError(w, fmt.Sprintf("autoconfig: encoding Autodiscover response: %v", err), http.StatusInternalServerError)
		return
	}
	body := append([]byte(xml.Header), append(out, '\n')...)
	hdr := w.Header()
	// text/xml is what Exchange sends, and so what every Autodiscover client
	// has been tested against.
	hdr.Set("Content-Type", "text/xml; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// adRequest holds what Mailroom reads from a request:
//
//	<Autodiscover xmlns="…/outlook/requestschema/2006">
//	  <Request>
//	    <EMailAddress>user@example.org</EMailAddress>
//	    <AcceptableResponseSchema>…/outlook/responseschema/2006a</AcceptableResponseSchema>
//	  </Request>
//	</Autodiscover>
type adRequest struct {
	email  string
	schema string
}

// readAutodiscoverRequest reads a request document from r. It reads one
// token at a time instead of unmarshaling. That way it can stop at the
// first sign of abuse, and it keeps no more than two short strings.
//
// encoding/xml never loads a DTD and expands only the five predefined
// entities and character references. An external entity or an "entity
// bomb" therefore cannot be expanded, and in strict mode (the default) an
// undefined entity is an error. A DOCTYPE is rejected as soon as it is seen,
// because a legitimate request has no reason to contain one. Nesting is
// limited so that the decoder's stack stays small. The caller limits the
// total size.
func readAutodiscoverRequest(r io.Reader) (adRequest, error) {
	var req adRequest
	var path []string // local names of the open elements
	d := xml.NewDecoder(r)
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return req, fmt.Errorf("reading Autodiscover request: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return req, errors.New("reading Autodiscover request: DOCTYPE or other directive not allowed")
		case xml.StartElement:
			if len(path) == maxRequestDepth {
				return req, fmt.Errorf("reading Autodiscover request: elements nested more than %d deep", maxRequestDepth)
			}
			if len(path) == 0 && t.Name.Local != "Autodiscover" {
				return req, fmt.Errorf("reading Autodiscover request: root element %q, want Autodiscover", t.Name.Local)
			}
			path = append(path, t.Name.Local)
		case xml.EndElement:
			path = path[:len(path)-1]
			if len(path) == 0 {
				// The root is closed. Anything after it is not read.
				if req.email == "" {
					return req, errors.New("reading Autodiscover request: no Request/EMailAddress")
				}
				return req, nil
			}
		case xml.CharData:
			if len(path) != 3 || path[1] != "Request" {
				continue
			}
			switch path[2] {
			case "EMailAddress":
				if len(req.email)+len(t) > maxAddressLen+64 { // room for white space around it
					return req, errors.New("reading Autodiscover request: EMailAddress too long")
				}
				req.email += string(t)
			case "AcceptableResponseSchema":
				if len(req.schema)+len(t) > maxSchemaLen {
					return req, errors.New("reading Autodiscover request: AcceptableResponseSchema too long")
				}
				req.schema += string(t)
			}
		}
	}
}
