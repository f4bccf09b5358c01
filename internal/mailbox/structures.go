package mailbox

import (
	"context"

	"mailroom/internal/mime"
)

// structureCacheSize bounds the MIME structures kept in memory for all
// mailboxes together (a structure is typically one or two KiB). Clients
// fetch ENVELOPE and BODYSTRUCTURE, then a body part, then flags again;
// each of those would otherwise be a database query.
const structureCacheSize = 4096

func newStructureCache() *lru[*mime.Message] {
	return newLRU(structureCacheSize, func(*mime.Message) int64 { return 1 })
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
