package wire

import "strings"

// The QUOTA commands (RFC 9208 section 4.1):
//
//	getquota          = "GETQUOTA" SP quota-root-name
//	getquotaroot      = "GETQUOTAROOT" SP mailbox
//	setquota          = "SETQUOTA" SP quota-root-name SP setquota-list
//	setquota-list     = "(" [setquota-resource *(SP setquota-resource)] ")"
//	setquota-resource = resource-name SP resource-limit
//	quota-root-name   = astring
//	resource-name     = atom (STORAGE, MESSAGE, MAILBOX, ANNOTATION-STORAGE or an extension)
//	resource-limit    = number64
//
// GETQUOTAROOT's argument is read with ReadMailboxArg.

// ReadGetQuota reads GETQUOTA's argument: SP quota-root-name.
func (d *Decoder) ReadGetQuota() (string, error) {
	if err := d.ExpectSP(); err != nil {
		return "", err
	}
	root, err := d.ReadAString()
	if err != nil {
		return "", err
	}
	if err := d.ExpectCRLF(); err != nil {
		return "", err
	}
	return root, nil
}

// SetQuota is SETQUOTA's arguments.
type SetQuota struct {
	Root   string
	Limits []QuotaLimit
}

// QuotaLimit is one setquota-resource. The name is upper-cased: the
// caller decides which names it supports.
type QuotaLimit struct {
	Resource string
	Limit    uint64
}

// ReadSetQuota reads SETQUOTA's arguments. A resource named twice is a
// syntax error: which limit was meant is anyone's guess.
func (d *Decoder) ReadSetQuota() (SetQuota, error) {
	var q SetQuota
	if err := d.ExpectSP(); err != nil {
		return SetQuota{}, err
	}
	var err error
	if q.Root, err = d.ReadAString(); err != nil {
		return SetQuota{}, err
	}
	if err := d.ExpectSP(); err != nil {
		return SetQuota{}, err
	}
	err = d.ReadList(func() error {
		start := d.pos
		b, err := d.atomBytes("a resource name")
		if err != nil {
			return err
		}
		name := strings.ToUpper(string(b))
		for _, l := range q.Limits {
			if l.Resource == name {
				return syntaxErr(start, "resource %s given twice", clip(name))
			}
		}
		if err := d.ExpectSP(); err != nil {
			return err
		}
		n, err := d.ReadNumber64()
		if err != nil {
			return err
		}
		q.Limits = append(q.Limits, QuotaLimit{Resource: name, Limit: n})
		return nil
	})
	if err != nil {
		return SetQuota{}, err
	}
	if err := d.ExpectCRLF(); err != nil {
		return SetQuota{}, err
	}
	return q, nil
}
