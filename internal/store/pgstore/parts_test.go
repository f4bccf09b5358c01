package pgstore

import (
	"testing"

	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// The mailboxes pass the conformance tests that need no messages.
func TestMailboxesConformance(t *testing.T) {
	storetest.RunMailboxes(t, func(t *testing.T) storetest.MailboxStore {
		return openStore(t, pgtest.NewDatabase(t))
	})
}

// App passwords, the vacation and DMARC logs, junk models and web
// sessions pass the conformance tests every backend passes.
func TestAccountDataConformance(t *testing.T) {
	storetest.RunAccountData(t, func(t *testing.T) storetest.AccountDataStore {
		return openStore(t, pgtest.NewDatabase(t))
	})
}
