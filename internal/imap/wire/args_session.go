package wire

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// The command readers (ReadLogin, ReadSelect, ReadStore …) read a
// command's arguments from the SP after its name (after "UID" SP name for
// the UID forms) through the end of the line, and return them as a typed
// struct: when one returns a nil error the command is complete and the
// caller only has behaviour left to run. Commands without arguments are
// read with ExpectCRLF; APPEND, whose messages are streamed, with
// ReadAppend and ReadAppendMessage; SEARCH with ExpectSP, ReadSearch and
// ExpectCRLF. Mailbox names are returned as ReadMailbox returns them (as
// sent, "INBOX" canonical): decoding modified UTF-7 depends on what the
// session enabled, so it is the caller's.

// CommandName is a command's name, upper-cased. For the UID forms it is
// the name after "UID", and UID is set.
type CommandName struct {
	Name string
	UID  bool
}

// ReadCommandName reads SP and a command's name after the tag, and for
// the UID forms "UID" SP and the name after it:
//
//	uid = "UID" SP (copy / move / fetch / search / store / uid-expunge)
//
// Whether the name is a command at all is the caller's business.
func (d *Decoder) ReadCommandName() (CommandName, error) {
	if err := d.ExpectSP(); err != nil {
		return CommandName{}, err
	}
	name, err := d.ReadAtom()
	if err != nil {
		return CommandName{}, err
	}
	name = strings.ToUpper(name)
	if name != "UID" {
		return CommandName{Name: name}, nil
	}
	if err := d.ExpectSP(); err != nil {
		return CommandName{}, err
	}
	start := d.pos
	if name, err = d.ReadAtom(); err != nil {
		return CommandName{}, err
	}
	name = strings.ToUpper(name)
	switch name {
	case "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD":
		return CommandName{Name: name, UID: true}, nil
	}
	return CommandName{}, syntaxErr(start, "UID %s is not a command", clip(name))
}

// Login is LOGIN's arguments (RFC 9051 6.2.3):
//
//	login = "LOGIN" SP userid SP password
type Login struct {
	User, Password string
}

// ReadLogin reads LOGIN's arguments.
func (d *Decoder) ReadLogin() (Login, error) {
	var l Login
	var err error
	if err = d.ExpectSP(); err != nil {
		return Login{}, err
	}
	if l.User, err = d.ReadAString(); err != nil {
		return Login{}, err
	}
	if err = d.ExpectSP(); err != nil {
		return Login{}, err
	}
	if l.Password, err = d.ReadAString(); err != nil {
		return Login{}, err
	}
	if err = d.ExpectCRLF(); err != nil {
		return Login{}, err
	}
	return l, nil
}

// Authenticate is AUTHENTICATE's arguments (RFC 9051 6.2.2, SASL-IR RFC
// 4959):
//
//	authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]
//	initial-resp = (base64 / "=")
//
// The mechanism is returned as sent. "=" is an empty initial response,
// told from none by HasInitialResponse.
type Authenticate struct {
	Mechanism          string
	InitialResponse    []byte
	HasInitialResponse bool
}

// ReadAuthenticate reads AUTHENTICATE's arguments. The client's responses
// to the challenges that follow are read with ReadAuthenticateResponse.
func (d *Decoder) ReadAuthenticate() (Authenticate, error) {
	var a Authenticate
	if err := d.ExpectSP(); err != nil {
		return a, err
	}
	mech, err := d.ReadAtom()
	if err != nil {
		return a, err
	}
	a.Mechanism = mech
	if d.SP() {
		b, err := d.atomBytes("an atom")
		if err != nil {
			return Authenticate{}, err
		}
		ir, ok := decodeSASL(b)
		if !ok {
			return Authenticate{}, syntaxErr(d.pos-len(b), "malformed initial response")
		}
		a.InitialResponse, a.HasInitialResponse = ir, true
	}
	if err := d.ExpectCRLF(); err != nil {
		return Authenticate{}, err
	}
	return a, nil
}

// ErrAuthCancelled is returned by ReadAuthenticateResponse when the client
// cancels the exchange with "*": RFC 9051 6.2.2 wants a tagged BAD.
var ErrAuthCancelled = &SyntaxError{Msg: "authentication cancelled"}

// ReadAuthenticateResponse reads one line answering an AUTHENTICATE
// challenge, outside any command, and decodes it: base64, or "=" for an
// empty response (RFC 9051 6.2.2). "*" returns ErrAuthCancelled, anything
// else that is not base64 a *SyntaxError.
func (d *Decoder) ReadAuthenticateResponse() ([]byte, error) {
	line, err := d.ReadLine()
	if err != nil {
		return nil, err
	}
	if string(line) == "*" {
		return nil, ErrAuthCancelled
	}
	resp, ok := decodeSASL(line)
	if !ok {
		return nil, syntaxErr(0, "malformed response")
	}
	return resp, nil
}

func decodeSASL(b []byte) ([]byte, bool) {
	if string(b) == "=" {
		return []byte{}, true
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

// Enable is ENABLE's arguments (RFC 5161): the capability names,
// upper-cased. No name at all is accepted (the answer is an empty
// ENABLED), though the grammar wants one.
type Enable struct {
	Capabilities []string
}

// ReadEnable reads ENABLE's arguments: *(SP capability).
func (d *Decoder) ReadEnable() (Enable, error) {
	var e Enable
	for d.SP() {
		b, err := d.atomBytes("an atom")
		if err != nil {
			return Enable{}, err
		}
		e.Capabilities = append(e.Capabilities, strings.ToUpper(string(b)))
	}
	if err := d.ExpectCRLF(); err != nil {
		return Enable{}, err
	}
	return e, nil
}

// ID is ID's arguments (RFC 2971):
//
//	id = "ID" SP id_params_list
//	id_params_list = "(" #(string SP nstring) ")" / nil
//
// Params is empty for NIL (and for "()").
type ID struct {
	Params []IDParam
}

// IDParam is one field and its value; Nil reports a NIL value.
type IDParam struct {
	Field, Value string
	Nil          bool
}

// ReadID reads ID's arguments.
func (d *Decoder) ReadID() (ID, error) {
	var id ID
	if err := d.ExpectSP(); err != nil {
		return id, err
	}
	c, err := d.Peek()
	if err != nil {
		return id, err
	}
	if c == '(' {
		err := d.ReadList(func() error {
			var p IDParam
			var err error
			if p.Field, err = d.ReadString(); err != nil {
				return err
			}
			if err := d.ExpectSP(); err != nil {
				return err
			}
			var ok bool
			p.Value, ok, err = d.ReadNString()
			p.Nil = !ok
			id.Params = append(id.Params, p)
			return err
		})
		if err != nil {
			return ID{}, err
		}
	} else {
		start := d.pos
		b, err := d.atomBytes("an atom")
		if err != nil {
			return ID{}, err
		}
		if !equalFoldASCII(b, "NIL") {
			return ID{}, syntaxErr(start, "ID wants a parameter list or NIL")
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return ID{}, err
	}
	return id, nil
}

// IdleDone reports whether a line read (ReadLine) during IDLE is the
// client's "DONE" (RFC 2177), in any case, blanks around it ignored.
func IdleDone(line []byte) bool {
	return equalFoldASCII(bytes.TrimSpace(line), "DONE")
}

// clip shortens a client's word quoted in an error message.
func clip[T string | []byte](b T) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}

// Compress is COMPRESS's argument (RFC 4978): the mechanism, upper-cased.
//
//	compress = "COMPRESS" SP algorithm
//	algorithm = atom
type Compress struct {
	Mechanism string
}

// ReadCompress reads COMPRESS's argument: SP atom.
func (d *Decoder) ReadCompress() (Compress, error) {
	if err := d.ExpectSP(); err != nil {
		return Compress{}, err
	}
	b, err := d.atomBytes("a compression mechanism")
	if err != nil {
		return Compress{}, err
	}
	if err := d.ExpectCRLF(); err != nil {
		return Compress{}, err
	}
	return Compress{Mechanism: strings.ToUpper(string(b))}, nil
}
