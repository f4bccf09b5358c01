package selfcheck

import (
	"context"
	"errors"

	"mailroom/internal/dkim"
	"mailroom/internal/store"
)

// StoreOf is the Store the checks need, read from a mail store.
func StoreOf(st store.Store) Store { return storeReader{st} }

type storeReader struct{ st store.Store }

func (s storeReader) DomainNames(ctx context.Context) ([]string, error) {
	ds, err := s.st.Domains(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	return names, nil
}

// DKIM returns no records, rather than an error, for a domain without
// keys: checkDomain reports that as a line of its own.
func (s storeReader) DKIM(ctx context.Context, domain string) ([]dkim.TXTRecord, error) {
	keys, err := dkim.Load(ctx, s.st, domain)
	if errors.Is(err, dkim.ErrNoKeys) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return keys.Records(), nil
}

func (s storeReader) ReadFile(ctx context.Context, name string) ([]byte, error) {
	return s.st.ReadFile(ctx, name)
}
