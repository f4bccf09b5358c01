package wire

// ACL is the arguments of the access control commands (RFC 4314 7):
//
//	setacl     = "SETACL" SP mailbox SP identifier SP mod-rights
//	deleteacl  = "DELETEACL" SP mailbox SP identifier
//	getacl     = "GETACL" SP mailbox
//	listrights = "LISTRIGHTS" SP mailbox SP identifier
//	myrights   = "MYRIGHTS" SP mailbox
//	identifier = astring
//	mod-rights = astring
//
// Identifier and Rights are left as sent: what they may contain is the
// server's business (RFC 4314 3 and 2.1), judged by the caller.
type ACL struct {
	Mailbox    string
	Identifier string // SETACL, DELETEACL, LISTRIGHTS
	Rights     string // SETACL
}

// ACLArgs says which arguments after the mailbox an ACL command has.
type ACLArgs int

// The shapes of the ACL commands.
const (
	ACLMailbox          ACLArgs = iota // GETACL, MYRIGHTS
	ACLIdentifier                      // DELETEACL, LISTRIGHTS
	ACLIdentifierRights                // SETACL
)

// ReadACL reads an ACL command's arguments of the given shape.
func (d *Decoder) ReadACL(shape ACLArgs) (ACL, error) {
	var a ACL
	var err error
	if a.Mailbox, err = d.spMailbox(); err != nil {
		return a, err
	}
	if shape >= ACLIdentifier {
		if err := d.ExpectSP(); err != nil {
			return a, err
		}
		if a.Identifier, err = d.ReadAString(); err != nil {
			return a, err
		}
	}
	if shape == ACLIdentifierRights {
		if err := d.ExpectSP(); err != nil {
			return a, err
		}
		if a.Rights, err = d.ReadAString(); err != nil {
			return a, err
		}
	}
	return a, d.ExpectCRLF()
}
