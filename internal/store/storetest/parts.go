package storetest

import (
	"testing"

	"mailroom/internal/store"
)

// The parts of the conformance suite a backend can pass before it
// implements the whole store (as pgstore does while it is built): each
// Run* runs one part's tests alone; Run runs them all.

// MailboxStore is the part of a store the mailbox conformance tests need:
// accounts to hold the mailboxes, and the mailboxes.
type MailboxStore interface {
	store.Directory
	store.Mailboxes
}

// mailboxTests need only a MailboxStore (no message is delivered).
var mailboxTests = []struct {
	name string
	fn   func(t *testing.T, st MailboxStore)
}{
	{"DefaultMailboxes", testDefaultMailboxes},
	{"MailboxTree", testMailboxTree},
	{"Subscriptions", testSubscriptions},
}

// RunMailboxes runs the conformance tests of store.Mailboxes that need no
// messages, for a backend that implements the directory and mailboxes
// (and maybe not yet messages). open returns a new empty store and closes
// it itself (t.Cleanup) if it needs closing.
func RunMailboxes(t *testing.T, open func(t *testing.T) MailboxStore) {
	for _, tc := range mailboxTests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer recoverFailure(t)
			tc.fn(t, st)
		})
	}
}

// AccountDataStore is the part of a store that keeps per-account data
// besides mail: app passwords, the vacation log, DMARC results, junk
// models and web sessions (and the directory, for the accounts).
type AccountDataStore interface {
	store.Directory
	store.AppPasswordStore
	store.VacationLog
	store.DMARCLog
	store.JunkStore
	store.WebSessions
}

// accountDataTests need only an AccountDataStore.
var accountDataTests = []struct {
	name string
	fn   func(t *testing.T, st AccountDataStore)
}{
	{"AppPasswords", testAppPasswords},
	{"VacationClaims", testVacationClaims},
	{"DMARCResults", testDMARCResults},
	{"JunkTraining", testJunkTraining},
	{"JunkPrune", testJunkPrune},
	{"WebSessions", testWebSessions},
	{"WebSessionLimit", testWebSessionLimit},
}

// RunAccountData runs the conformance tests of the account data stores
// (see AccountDataStore), for a backend that implements them (and maybe
// not yet messages). open returns a new empty store and closes it itself
// (t.Cleanup) if it needs closing.
func RunAccountData(t *testing.T, open func(t *testing.T) AccountDataStore) {
	for _, tc := range accountDataTests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer recoverFailure(t)
			tc.fn(t, st)
		})
	}
}

// MessageStore is everything of store.Store but the outbound queue and
// the change feed: the directory, mailboxes and messages, and the account
// data.
type MessageStore interface {
	AccountDataStore
	store.Mailboxes
	store.Messages
}

// messageTests need a MessageStore: they deliver messages.
var messageTests = []struct {
	name string
	fn   func(t *testing.T, st MessageStore)
}{
	{"MailboxHierarchy", testMailboxHierarchy},
	{"RenameInbox", testRenameInbox},
	{"DeliverAndRead", testDeliverAndRead},
	{"DeliverAtomic", testDeliverAtomic},
	{"DeliverAll", testDeliverAll},
	{"ConcurrentAppends", testConcurrentAppends},
	{"Flags", testFlags},
	{"ExpungeHistory", testExpungeHistory},
	{"CopyMove", testCopyMove},
	{"DeleteAccountFreesMail", testDeleteAccount},
	{"POP3Marks", testPOP3Marks},
	{"LoadMailbox", testLoadMailbox},
	{"JunkMessages", testJunkMessages},
}

// RunAllButQueueAndFeed runs every conformance test except those of the
// outbound queue and the change feed: those of RunDirectory, RunMailboxes
// and RunAccountData, and those that deliver and read messages. It is for
// a backend that implements a MessageStore (and maybe not yet the queue
// and the feed). open returns a new empty store and closes it itself
// (t.Cleanup) if it needs closing.
func RunAllButQueueAndFeed(t *testing.T, open func(t *testing.T) MessageStore) {
	type test struct {
		name string
		fn   func(t *testing.T, st MessageStore)
	}
	var tests []test
	for _, tc := range directoryTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st MessageStore) { tc.fn(t, st) }})
	}
	for _, tc := range mailboxTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st MessageStore) { tc.fn(t, st) }})
	}
	for _, tc := range accountDataTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st MessageStore) { tc.fn(t, st) }})
	}
	for _, tc := range messageTests {
		tests = append(tests, test{tc.name, tc.fn})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer recoverFailure(t)
			tc.fn(t, st)
		})
	}
}

// QueueStore is what the outbound queue's conformance tests need: the
// queue, and the messages whose bodies it shares.
type QueueStore interface {
	MessageStore
	store.Queue
}

// queueTests need a QueueStore.
var queueTests = []struct {
	name string
	fn   func(t *testing.T, st QueueStore)
}{
	{"Queue", testQueue},
	{"QueueSharesBodies", testQueueSharesBodies},
}

// RunQueue runs the conformance tests of the outbound queue, for a
// backend that implements a QueueStore (and maybe not yet the change
// feed). open returns a new empty store and closes it itself (t.Cleanup)
// if it needs closing.
func RunQueue(t *testing.T, open func(t *testing.T) QueueStore) {
	for _, tc := range queueTests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer recoverFailure(t)
			tc.fn(t, st)
		})
	}
}
