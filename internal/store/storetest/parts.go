package storetest

import (
	"testing"

	"mailroom/internal/store"
)

// The parts of the conformance suite, each with the part of the store its
// tests need; Run runs them all.

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
	{"QueueLeaseRenewal", testQueueLeaseRenewal},
	{"QueueStats", testQueueStats},
}
