package store

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/mime"
)

// Conversations. Every message has a thread id (MessageMeta.ThreadID),
// per account, assigned by the backend in the transaction that delivers
// the message, as JMAP (RFC 8621 section 3) and Gmail group mail:
//
//   - A message joins an existing thread of its account when one of its
//     ids (its own Message-ID, its In-Reply-To, its References as kept by
//     ThreadKeysOf) is an id some earlier message of that account had
//     among its own ids, and both messages have the same base subject
//     (mime.BaseSubject, case-folded). An earlier message's references
//     count, so a parent that arrives after its reply joins the reply's
//     thread.
//   - When ids lead to several threads, the oldest (lowest id) wins.
//     Threads are never merged afterwards: a thread id, once given, does
//     not change, as RFC 8621 wants of Email.threadId.
//   - Otherwise the message starts a thread whose id is the message's own
//     ID (MessageMeta.ID).
//   - The subject alone never joins a message to a thread. RFC 8621's
//     suggested rule asks for a shared id AND a matching subject; grouping
//     by subject alone merges every "Hello" and "Invoice" of an account.
//     The subject splits: a reply whose subject was changed starts a new
//     conversation, as in Gmail.
//
// Copies keep the thread of their original and moves keep everything, so
// a conversation spans folders (a reply APPENDed to Sent joins the thread
// of the message in INBOX).
//
// The backends keep the ids in a table of (account, id hash, thread, subject
// hash) rows: a lookup per delivery is one index range per id.

// ThreadRefsKept bounds how many References ids a message contributes:
// the first (the conversation's root) and the last ThreadRefsKept-1 (the
// nearest ancestors), as news and mail threaders trim long References.
// A References field of 10,000 ids then costs the same as one of 10;
// a lost message between the kept ids costs nothing either, since any
// one shared id (with the subject) joins.
const ThreadRefsKept = 10

// maxMessageIDLen bounds one id: longer tokens are junk (RFC 5322 lines
// are at most 998 octets) and are skipped.
const maxMessageIDLen = 998

// ThreadKeys is what a message's thread is decided by: the hashes of its
// ids (sorted, without duplicates) and of its base subject.
type ThreadKeys struct {
	IDs     []int64
	Subject int64
}

// ThreadKeysOf derives a message's thread keys from its envelope (nil:
// none, the message starts its own thread).
func ThreadKeysOf(env *mime.Envelope) ThreadKeys {
	if env == nil {
		return ThreadKeys{}
	}
	var ids []string
	ids = append(ids, MessageIDs(env.MessageID, 1)...)
	ids = append(ids, MessageIDs(env.InReplyTo, 1)...)
	ids = append(ids, MessageIDs(env.References, ThreadRefsKept)...)
	k := ThreadKeys{Subject: ThreadSubjectHash(env.DecodedSubject)}
	for _, id := range ids {
		k.IDs = append(k.IDs, hash64(id))
	}
	slices.Sort(k.IDs)
	k.IDs = slices.Compact(k.IDs)
	return k
}

// OrContent returns k, or, when k has no ids (a message without
// Message-ID, In-Reply-To and References), a key made of the content id:
// then the copies of one delivery that land in several mailboxes of an
// account (a Sieve fileinto and keep) still share a thread, as copies
// made later do.
func (k ThreadKeys) OrContent(contentID int64) ThreadKeys {
	if len(k.IDs) > 0 {
		return k
	}
	return ThreadKeys{IDs: []int64{hash64("\x00content:" + strconv.FormatInt(contentID, 10))}, Subject: k.Subject}
}

// MessageThreadKeys is ThreadKeysOf the message's root envelope.
func MessageThreadKeys(m *mime.Message) ThreadKeys {
	if m == nil || m.Root == nil {
		return ThreadKeys{}
	}
	return ThreadKeysOf(m.Root.Envelope)
}

// StoredThreadKeys returns the thread keys of a stored content, as its
// delivery computed them, from its stored structure (mime.Message's
// binary form): what a copy into another account, whose conversations
// are its own, is threaded by.
func StoredThreadKeys(contentID int64, structure []byte) (ThreadKeys, error) {
	var m mime.Message
	if err := m.UnmarshalBinary(structure); err != nil {
		return ThreadKeys{}, fmt.Errorf("store: structure of content %d: %w", contentID, err)
	}
	return MessageThreadKeys(&m).OrContent(contentID), nil
}

// ThreadSubjectHash is the hash of a decoded subject's base subject,
// case-folded: two messages' subjects agree when their hashes do.
func ThreadSubjectHash(decoded string) int64 {
	base, _ := mime.BaseSubject(decoded)
	return hash64(strings.ToLower(base))
}

func hash64(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

// MessageIDs parses a Message-ID, In-Reply-To or References field value
// into ids (without angle brackets), keeping at most keep of them: the
// first and the last keep-1 (keep 1: the first only). It tolerates what
// real mail has: comments and phrases between ids ("<a@b> (Joe's
// message)"), commas, missing brackets (bare "a@b" tokens when the field
// has no "<" at all), nested brackets, quoting, whitespace and folding
// inside an id (bracketed ids are mime.MessageIDs', the ones IMAP THREAD
// reads). It runs in one pass and keeps at most keep ids
// however long the field.
func MessageIDs(field string, keep int) []string {
	if keep <= 0 {
		return nil
	}
	var first string
	var tail []string // ring of the last keep-1 ids after the first
	next, n := 0, 0
	add := func(id string) {
		if id == "" || len(id) > maxMessageIDLen {
			return
		}
		n++
		if n == 1 {
			first = id
			return
		}
		if keep == 1 {
			return
		}
		if len(tail) < keep-1 {
			tail = append(tail, id)
			return
		}
		tail[next] = id
		next = (next + 1) % (keep - 1)
	}
	if strings.IndexByte(field, '<') >= 0 {
		for id := range mime.MessageIDs(field) {
			add(id)
		}
		// An unterminated last id (a truncated field) still counts here:
		// a reply whose References was cut keeps its thread.
		if open := strings.LastIndexByte(field, '<'); strings.IndexByte(field[open:], '>') < 0 {
			if id, ok := mime.NormalizeMessageID(field[open+1:]); ok {
				add(id)
			}
		}
	} else {
		for _, tok := range strings.FieldsFunc(field, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ','
		}) {
			if strings.Contains(tok, "@") {
				add(tok)
			}
		}
	}
	if n == 0 {
		return nil
	}
	out := append(make([]string, 0, 1+len(tail)), first)
	if len(tail) == keep-1 {
		out = append(out, tail[next:]...)
		out = append(out, tail[:next]...)
	} else {
		out = append(out, tail...)
	}
	return out
}

// ThreadMember is one message of a thread: where it is.
type ThreadMember struct {
	MailboxID int64
	UID       uint32
	ID        int64 // MessageMeta.ID
}

// Threads reads and rebuilds conversations.
type Threads interface {
	// ThreadMessages lists the messages of one of the account's threads in
	// every mailbox of the account, ordered by ID (delivery order), from
	// an index (no scan of the account's messages). An unknown thread has
	// no messages.
	ThreadMessages(ctx context.Context, accountID, threadID int64) ([]ThreadMember, error)
	// RethreadAccount recomputes the thread of every message of the
	// account from the stored structures, in delivery (ID) order, by the
	// same rule as delivery; copies of one message (one content) stay in
	// one thread. It replaces the account's thread keys. progress, if not
	// nil, is called after each batch with the messages done and the
	// total. It returns how many messages it saw. Sessions that have a
	// mailbox open see the new ids when they next load it.
	RethreadAccount(ctx context.Context, accountID int64, progress func(done, total int)) (int, error)
}

// RethreadRow is one message as RethreadAccount reads it.
type RethreadRow struct {
	MailboxID int64
	UID       uint32
	ID        int64
	ContentID int64
}

// RethreadGroup is the messages of an account that share one content
// (copies of one message): they share a thread.
type RethreadGroup struct {
	ContentID int64
	Rows      []RethreadRow // by ID; Rows[0] is the first delivered
}

// RethreadGroups groups an account's messages by content, in delivery
// order: groups by their first message's ID, rows by ID. Backends'
// RethreadAccount then decide one thread per group, in that order.
func RethreadGroups(rows []RethreadRow) []RethreadGroup {
	slices.SortFunc(rows, func(a, b RethreadRow) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.MailboxID, b.MailboxID))
	})
	index := map[int64]int{}
	var groups []RethreadGroup
	for _, r := range rows {
		i, ok := index[r.ContentID]
		if !ok {
			i = len(groups)
			index[r.ContentID] = i
			groups = append(groups, RethreadGroup{ContentID: r.ContentID})
		}
		groups[i].Rows = append(groups[i].Rows, r)
	}
	return groups
}
