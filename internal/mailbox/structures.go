package mailbox

import (
	"context"
	"unsafe"

	"mailroom/internal/mime"
)

// structureCacheSize bounds the memory of the MIME structures kept for
// all mailboxes together (structureCost estimates each: typically one to
// three KiB, so some 4,000 to 8,000 structures). Clients fetch ENVELOPE
// and BODYSTRUCTURE, then a body part, then flags again; each of those
// would otherwise be a database query. It is bounded in bytes, not in
// entries, because one message of ten thousand parts has a structure of
// megabytes.
const structureCacheSize = 8 << 20

func newStructureCache() *lru[*mime.Message] {
	return newLRU(structureCacheSize, structureCost)
}

// structureCost estimates the memory of a structure: its parts, their
// strings, and the envelopes. It runs for each structure cached, so it
// counts rather than measures exactly.
func structureCost(m *mime.Message) int64 {
	if m == nil {
		return 0
	}
	n := int64(unsafe.Sizeof(*m)) + int64(len(m.Preview))
	if m.Root != nil {
		n += partCost(m.Root)
	}
	return n
}

func partCost(p *mime.Part) int64 {
	const (
		partSize  = int64(unsafe.Sizeof(mime.Part{}))
		envSize   = int64(unsafe.Sizeof(mime.Envelope{}))
		addrSize  = int64(unsafe.Sizeof(mime.Address{}))
		paramSize = int64(unsafe.Sizeof(mime.Param{}))
		strSize   = int64(unsafe.Sizeof(""))
		ptrSize   = int64(unsafe.Sizeof(p))
	)
	n := partSize + int64(len(p.Type)+len(p.Subtype)+len(p.ID)+len(p.Description)+len(p.Encoding)+len(p.MD5)+
		len(p.Disposition)+len(p.Location)+len(p.Filename))
	for _, ps := range [][]mime.Param{p.Params, p.DispositionParams} {
		for _, x := range ps {
			n += paramSize + int64(len(x.Name)+len(x.Value))
		}
	}
	for _, l := range p.Language {
		n += strSize + int64(len(l))
	}
	if e := p.Envelope; e != nil {
		n += envSize + int64(len(e.Date)+len(e.Subject)+len(e.DecodedSubject)+len(e.InReplyTo)+len(e.MessageID)+len(e.References))
		for _, as := range [][]mime.Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
			for _, a := range as {
				n += addrSize + int64(len(a.Name)+len(a.DecodedName)+len(a.Adl)+len(a.Mailbox)+len(a.Host))
			}
		}
	}
	for _, c := range p.Parts {
		n += ptrSize + partCost(c)
	}
	return n
}

// Structure returns the MIME structure of message uid of a mailbox, from
// memory when it was asked for recently. The result is shared: treat it as
// read-only.
func (r *Service) Structure(ctx context.Context, mailboxID int64, uid uint32) (*mime.Message, error) {
	k := messageKey{mailboxID, uid}
	if st, ok := r.structures.get(k); ok {
		return st, nil
	}
	st, err := r.st.Structure(ctx, mailboxID, uid)
	if err != nil {
		return nil, err
	}
	r.structures.put(k, st)
	return st, nil
}

// Structure returns the MIME structure of message uid (see Service.Structure).
func (m *Mailbox) Structure(ctx context.Context, uid uint32) (*mime.Message, error) {
	return m.reg.Structure(ctx, m.id, uid)
}

// ScanStructure is Structure for a scan over many messages (SEARCH on
// headers or text the index does not answer): it takes a cached structure
// but does not cache what it reads, so that a search of a whole mailbox
// neither evicts what clients are fetching nor leaves thousands of
// structures behind.
func (m *Mailbox) ScanStructure(ctx context.Context, uid uint32) (*mime.Message, error) {
	if st, ok := m.reg.structures.get(messageKey{m.id, uid}); ok {
		return st, nil
	}
	return m.reg.st.Structure(ctx, m.id, uid)
}
