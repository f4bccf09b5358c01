package wire

// URLAUTH commands (RFC 4467 section 9, URLAUTH=BINARY RFC 5524 section 4).

// maxURLs bounds the URLs of one GENURLAUTH or URLFETCH: each costs a
// mailbox lookup and a response, and no client needs thousands at once.
const maxURLs = 1000

// GenURLAuthItem is one "url-rump SP mechanism" of GENURLAUTH.
type GenURLAuthItem struct {
	Rump      string
	Mechanism string // as sent; mechanisms are case-insensitive
}

// ReadGenURLAuth reads GENURLAUTH's arguments:
//
//	genurlauth = "GENURLAUTH" 1*(SP url-rump SP mechanism)
//	url-rump   = astring
//	mechanism  = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")
func (d *Decoder) ReadGenURLAuth() ([]GenURLAuthItem, error) {
	var items []GenURLAuthItem
	for {
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
		rump, err := d.ReadAString()
		if err != nil {
			return nil, err
		}
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
		mech, err := d.readMechanism()
		if err != nil {
			return nil, err
		}
		if len(items) == maxURLs {
			return nil, syntaxErr(d.pos, "too many URLs (limit %d)", maxURLs)
		}
		items = append(items, GenURLAuthItem{Rump: rump, Mechanism: mech})
		if d.peekByte() != ' ' {
			break
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return nil, err
	}
	return items, nil
}

func (d *Decoder) readMechanism() (string, error) {
	start := d.pos
	b, err := d.atomBytes("a URLAUTH mechanism")
	if err != nil {
		return "", err
	}
	for _, c := range b {
		if !isAlphaNum(c) && c != '-' && c != '.' {
			return "", syntaxErr(start, "bad URLAUTH mechanism %s", clip(b))
		}
	}
	return string(b), nil
}

func isAlphaNum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// URLFetchItem is one URL of URLFETCH with its RFC 5524 parameters.
type URLFetchItem struct {
	URL string
	// Extended is set for the parenthesised form "(" url *(SP param) ")":
	// the response then uses the extended syntax even without parameters.
	Extended          bool
	BodyPartStructure bool
	Binary            bool // BINARY: the content decoded
	Body              bool // BODY: the content as stored
}

// ReadURLFetch reads URLFETCH's arguments:
//
//	urlfetch = "URLFETCH" 1*(SP url-fetch-arg)                 ; RFC 4467, 5524
//	url-fetch-arg = url / "(" url *(SP url-fetch-param) ")"
//	url-fetch-param = "BODYPARTSTRUCTURE" / "BINARY" / "BODY"
//
// BINARY and BODY together are a syntax error (RFC 5524 section 4).
func (d *Decoder) ReadURLFetch() ([]URLFetchItem, error) {
	var items []URLFetchItem
	for {
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
		var it URLFetchItem
		if d.peekByte() == '(' {
			d.pos++
			it.Extended = true
			url, err := d.ReadAString()
			if err != nil {
				return nil, err
			}
			it.URL = url
			for d.SP() {
				start := d.pos
				b, err := d.atomBytes("a URLFETCH parameter")
				if err != nil {
					return nil, err
				}
				switch {
				case equalFoldASCII(b, "BODYPARTSTRUCTURE"):
					it.BodyPartStructure = true
				case equalFoldASCII(b, "BINARY"):
					it.Binary = true
				case equalFoldASCII(b, "BODY"):
					it.Body = true
				default:
					return nil, syntaxErr(start, "unknown URLFETCH parameter %s", clip(b))
				}
			}
			if it.Binary && it.Body {
				return nil, syntaxErr(d.pos, "URLFETCH wants BINARY or BODY, not both")
			}
			if err := d.expectByte(')'); err != nil {
				return nil, err
			}
		} else {
			url, err := d.ReadAString()
			if err != nil {
				return nil, err
			}
			it.URL = url
		}
		if len(items) == maxURLs {
			return nil, syntaxErr(d.pos, "too many URLs (limit %d)", maxURLs)
		}
		items = append(items, it)
		if d.peekByte() != ' ' {
			break
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return nil, err
	}
	return items, nil
}

// ResetKey is RESETKEY's arguments:
//
//	resetkey = "RESETKEY" [SP mailbox *(SP mechanism)]
//
// Mailbox is "" (HasMailbox false) for the form that resets every key.
type ResetKey struct {
	Mailbox    string
	HasMailbox bool
	Mechanisms []string
}

// ReadResetKey reads RESETKEY's arguments.
func (d *Decoder) ReadResetKey() (ResetKey, error) {
	var r ResetKey
	if d.SP() {
		name, err := d.ReadMailbox()
		if err != nil {
			return ResetKey{}, err
		}
		r.Mailbox, r.HasMailbox = name, true
		for d.SP() {
			mech, err := d.readMechanism()
			if err != nil {
				return ResetKey{}, err
			}
			if len(r.Mechanisms) == 16 {
				return ResetKey{}, syntaxErr(d.pos, "too many mechanisms")
			}
			r.Mechanisms = append(r.Mechanisms, mech)
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return ResetKey{}, err
	}
	return r, nil
}
