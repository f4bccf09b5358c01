package autoconfig

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readPlist is a small reader for XML property lists. It knows dict, array,
// string, integer, true and false, which covers profiles. It returns
// map[string]any, []any, string, int64 and bool. It fails on duplicate keys
// and on anything it does not know.
func readPlist(data []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("before <plist>: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" || attr(se, "version") != "1.0" {
				return nil, fmt.Errorf("root <%s version=%q>", se.Name.Local, attr(se, "version"))
			}
			break
		}
	}
	v, err := plistValue(d)
	if err != nil {
		return nil, err
	}
	if end, err := nextElement(d); err != nil || end != nil {
		return nil, fmt.Errorf("after the value: %v %v, want </plist>", end, err)
	}
	return v, nil
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// nextElement returns the next start element, or nil at an end element. It
// skips white space and fails on any other text.
func nextElement(d *xml.Decoder) (*xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return &t, nil
		case xml.EndElement:
			return nil, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("stray text %q", t)
			}
		default:
			return nil, fmt.Errorf("unexpected %T", t)
		}
	}
}

func plistValue(d *xml.Decoder) (any, error) {
	se, err := nextElement(d)
	if err != nil {
		return nil, err
	}
	if se == nil {
		return nil, errors.New("missing value")
	}
	return plistElement(d, *se)
}

func plistElement(d *xml.Decoder, se xml.StartElement) (any, error) {
	switch se.Name.Local {
	case "string", "integer":
		var s string
		if err := d.DecodeElement(&s, &se); err != nil {
			return nil, err
		}
		if se.Name.Local == "string" {
			return s, nil
		}
		return strconv.ParseInt(s, 10, 64)
	case "true", "false":
		if err := d.Skip(); err != nil {
			return nil, err
		}
		return se.Name.Local == "true", nil
	case "array":
		var a []any
		for {
			item, err := nextElement(d)
			if err != nil {
				return nil, err
			}
			if item == nil {
				return a, nil
			}
			v, err := plistElement(d, *item)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case "dict":
		m := map[string]any{}
		for {
			k, err := nextElement(d)
			if err != nil {
				return nil, err
			}
			if k == nil {
				return m, nil
			}
			if k.Name.Local != "key" {
				return nil, fmt.Errorf("<%s> where a <key> belongs", k.Name.Local)
			}
			var key string
			if err := d.DecodeElement(&key, k); err != nil {
				return nil, err
			}
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("duplicate key %q", key)
			}
			if m[key], err = plistValue(d); err != nil {
				return nil, fmt.Errorf("key %q: %w", key, err)
			}
		}
	}
	return nil, fmt.Errorf("unknown plist element <%s>", se.Name.Local)
}

// profile parses a profile and returns the top-level dict and its one mail
// payload.
func profile(t *testing.T, data []byte) (top, mail map[string]any) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte(xml.Header+`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`)) {
		t.Errorf("header:\n%.200s", data)
	}
	v, err := readPlist(data)
	if err != nil {
		t.Fatalf("parsing plist: %v\n%s", err, data)
	}
	top, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("top level is %T", v)
	}
	content, ok := top["PayloadContent"].([]any)
	if !ok || len(content) != 1 {
		t.Fatalf("PayloadContent %#v", top["PayloadContent"])
	}
	if mail, ok = content[0].(map[string]any); !ok {
		t.Fatalf("payload is %T", content[0])
	}
	return top, mail
}

var uuidRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

func TestMobileConfigIMAP(t *testing.T) {
	h := New(testServer(), domains("example.org"))
	data, err := h.MobileConfig("Bob@Example.org", "Bob Builder", "imap")
	if err != nil {
		t.Fatal(err)
	}
	top, mail := profile(t, data)

	for k, want := range map[string]any{
		"PayloadType":        "Configuration",
		"PayloadVersion":     int64(1),
		"PayloadDisplayName": "Example mail: bob@example.org",
	} {
		if top[k] != want {
			t.Errorf("top %s = %#v, want %#v", k, top[k], want)
		}
	}
	wantMail := map[string]any{
		"EmailAccountDescription":                "bob@example.org",
		"EmailAccountName":                       "Bob Builder",
		"EmailAccountType":                       "EmailTypeIMAP",
		"EmailAddress":                           "bob@example.org",
		"IncomingMailServerAuthentication":       "EmailAuthPassword",
		"IncomingMailServerHostName":             "mail.example.org",
		"IncomingMailServerPortNumber":           int64(993),
		"IncomingMailServerUseSSL":               true,
		"IncomingMailServerUsername":             "bob@example.org",
		"OutgoingMailServerAuthentication":       "EmailAuthPassword",
		"OutgoingMailServerHostName":             "mail.example.org",
		"OutgoingMailServerPortNumber":           int64(465),
		"OutgoingMailServerUseSSL":               true,
		"OutgoingMailServerUsername":             "bob@example.org",
		"OutgoingPasswordSameAsIncomingPassword": true,
		"PayloadType":                            "com.apple.mail.managed",
		"PayloadVersion":                         int64(1),
	}
	for k, want := range wantMail {
		if mail[k] != want {
			t.Errorf("mail %s = %#v, want %#v", k, mail[k], want)
		}
	}
	// No password, and nothing unexpected.
	for k := range mail {
		if _, known := wantMail[k]; !known && !strings.HasPrefix(k, "Payload") {
			t.Errorf("unexpected mail key %s = %#v", k, mail[k])
		}
	}
	for _, k := range []string{"IncomingPassword", "OutgoingPassword"} {
		if _, ok := mail[k]; ok {
			t.Errorf("the profile contains %s", k)
		}
	}

	for _, d := range []map[string]any{top, mail} {
		if u, _ := d["PayloadUUID"].(string); !uuidRE.MatchString(u) {
			t.Errorf("PayloadUUID %q is not a version 8 UUID", u)
		}
	}
	if top["PayloadUUID"] == mail["PayloadUUID"] {
		t.Errorf("profile and payload share the UUID %v", top["PayloadUUID"])
	}
	topID, _ := top["PayloadIdentifier"].(string)
	if !strings.HasPrefix(topID, "org.example.mail.") || mail["PayloadIdentifier"] != topID+".mail" {
		t.Errorf("PayloadIdentifier %q and %q", topID, mail["PayloadIdentifier"])
	}
}

func TestMobileConfigPOP3(t *testing.T) {
	h := New(testServer(), domains("example.org"))
	data, err := h.MobileConfig("bob@example.org", "", "pop3")
	if err != nil {
		t.Fatal(err)
	}
	_, mail := profile(t, data)
	if mail["EmailAccountType"] != "EmailTypePOP" || mail["IncomingMailServerPortNumber"] != int64(995) {
		t.Errorf("type %v, port %v", mail["EmailAccountType"], mail["IncomingMailServerPortNumber"])
	}
	if _, ok := mail["EmailAccountName"]; ok {
		t.Errorf("EmailAccountName present for an empty name")
	}
}

// TestMobileConfigIdentity checks that the same account always gets the
// same identifiers, so that installing the profile again replaces the
// account, and that another account gets other identifiers.
func TestMobileConfigIdentity(t *testing.T) {
	h := New(testServer(), domains("example.org"))
	ids := func(email, protocol string) [4]any {
		t.Helper()
		data, err := h.MobileConfig(email, "Bob", protocol)
		if err != nil {
			t.Fatal(err)
		}
		top, mail := profile(t, data)
		return [4]any{top["PayloadUUID"], top["PayloadIdentifier"], mail["PayloadUUID"], mail["PayloadIdentifier"]}
	}
	bob := ids("bob@example.org", "imap")
	if again := ids("BOB@example.ORG", "imap"); again != bob {
		t.Errorf("same account, other identifiers:\n%v\n%v", bob, again)
	}
	if pop := ids("bob@example.org", "pop3"); pop != bob {
		t.Errorf("POP3 profile does not replace the IMAP one:\n%v\n%v", bob, pop)
	}
	alice := ids("alice@example.org", "imap")
	for i := range alice {
		if alice[i] == bob[i] {
			t.Errorf("identifier %d shared by two accounts: %v", i, alice[i])
		}
	}
	// The server is part of the identity, too.
	srv := testServer()
	srv.Hostname = "mx.example.net"
	data, err := New(srv, domains("example.org")).MobileConfig("bob@example.org", "Bob", "imap")
	if err != nil {
		t.Fatal(err)
	}
	if top, _ := profile(t, data); top["PayloadUUID"] == bob[0] {
		t.Errorf("two servers give the same UUID %v", bob[0])
	}

	a, _ := h.MobileConfig("bob@example.org", "Bob", "imap")
	b, _ := h.MobileConfig("bob@example.org", "Bob", "imap")
	if !bytes.Equal(a, b) {
		t.Errorf("two profiles for the same input differ")
	}
}

// TestMobileConfigStartTLS checks that a server with only STARTTLS ports
// still asks for TLS.
func TestMobileConfigStartTLS(t *testing.T) {
	srv := testServer()
	srv.IMAP = []Endpoint{{143, SecurityStartTLS}}
	srv.Submission = []Endpoint{{587, SecurityStartTLS}, {465, SecurityTLS}}
	data, err := New(srv, domains("example.org")).MobileConfig("bob@example.org", "", "imap")
	if err != nil {
		t.Fatal(err)
	}
	_, mail := profile(t, data)
	if mail["IncomingMailServerPortNumber"] != int64(143) || mail["IncomingMailServerUseSSL"] != true {
		t.Errorf("incoming %v, UseSSL %v", mail["IncomingMailServerPortNumber"], mail["IncomingMailServerUseSSL"])
	}
	// With a choice, implicit TLS is taken even when listed second.
	if mail["OutgoingMailServerPortNumber"] != int64(465) {
		t.Errorf("outgoing port %v, want 465", mail["OutgoingMailServerPortNumber"])
	}
}

func TestMobileConfigEscapes(t *testing.T) {
	srv := testServer()
	srv.DisplayName = `Mail & "more" </string><key>x</key>`
	name := `Bob <b>Builder</b> & Sons' "Ltd"`
	data, err := New(srv, domains("example.org")).MobileConfig("bob@example.org", name, "imap")
	if err != nil {
		t.Fatal(err)
	}
	top, mail := profile(t, data)
	if mail["EmailAccountName"] != name {
		t.Errorf("EmailAccountName %q, want %q", mail["EmailAccountName"], name)
	}
	if want := srv.DisplayName + ": bob@example.org"; top["PayloadDisplayName"] != want {
		t.Errorf("PayloadDisplayName %q, want %q", top["PayloadDisplayName"], want)
	}
}

func TestMobileConfigErrors(t *testing.T) {
	noPOP := testServer()
	noPOP.POP3 = nil
	noSubmission := testServer()
	noSubmission.Submission = nil
	for _, tc := range []struct {
		name                     string
		srv                      Server
		email, account, protocol string
	}{
		{"POP3 off", noPOP, "bob@example.org", "", "pop3"},
		{"submission off", noSubmission, "bob@example.org", "", "imap"},
		{"unknown protocol", testServer(), "bob@example.org", "", "jmap"},
		{"protocol case", testServer(), "bob@example.org", "", "IMAP"},
		{"bad address", testServer(), "bob", "", "imap"},
		{"long address", testServer(), longAddress(), "", "imap"},
		{"newline in name", testServer(), "bob@example.org", "Bob\r\nBcc: x@y", "imap"},
		{"NUL in name", testServer(), "bob@example.org", "Bob\x00", "imap"},
		{"not UTF-8", testServer(), "bob@example.org", "Bob \xff", "imap"},
		{"long name", testServer(), "bob@example.org", strings.Repeat("B", maxAccountNameLen+1), "imap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := New(tc.srv, domains("example.org")).MobileConfig(tc.email, tc.account, tc.protocol)
			if err == nil {
				t.Fatalf("no error; profile:\n%s", data)
			}
			if !strings.HasPrefix(err.Error(), "autoconfig: mobileconfig") {
				t.Errorf("error without context: %v", err)
			}
		})
	}
}

// TestReadPlist checks the test's own plist reader on Apple's forms, so
// that the tests above can trust it.
func TestReadPlist(t *testing.T) {
	v, err := readPlist([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>a</key><array><true/><false/><integer>-3</integer></array><key>b</key><string>x &amp; y</string></dict></plist>`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []any{true, false, int64(-3)}, "b": "x & y"}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v", v)
	}
	for _, bad := range []string{
		`<plist version="1.0"><dict><key>a</key><string/><key>a</key><string/></dict></plist>`,
		`<plist version="1.0"><dict><string>a</string></dict></plist>`,
		`<plist version="1.0"><dict><key>a</key><date>x</date></dict></plist>`,
		`<plist><dict/></plist>`,
	} {
		if _, err := readPlist([]byte(bad)); err == nil {
			t.Errorf("readPlist accepted %s", bad)
		}
	}
}
