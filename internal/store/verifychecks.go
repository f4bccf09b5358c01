package store

// ConsistencyCheck is one of Verify's checks that is a query: each row it
// returns is one problem, described by Format with the row's columns.
type ConsistencyCheck struct{ Check, Query, Format string }

// ConsistencyChecks are the checks both backends run as they are: the
// SQL is the part of SQLite's and PostgreSQL's dialects they share (the
// tests of each backend run every one). A table of constants: never
// modified.
var ConsistencyChecks = []ConsistencyCheck{
	{"refs", `SELECT c.id, c.refs, coalesce(r.n, 0) FROM contents c
		LEFT JOIN (SELECT u.content_id, count(*) AS n FROM
			(SELECT content_id FROM messages UNION ALL SELECT content_id FROM queue) u
			GROUP BY u.content_id) r ON r.content_id = c.id
		WHERE c.refs != coalesce(r.n, 0)`,
		"content %d counts %d references, %d messages and queued messages refer to it"},
	{"refs", `SELECT m.mailbox_id, m.uid, m.content_id FROM messages m
		LEFT JOIN contents c ON c.id = m.content_id WHERE c.id IS NULL`,
		"message %d/%d refers to content %d, which does not exist"},
	{"refs", `SELECT q.id, q.content_id FROM queue q
		LEFT JOIN contents c ON c.id = q.content_id WHERE c.id IS NULL`,
		"queued message %d refers to content %d, which does not exist"},
	{"mailbox", `SELECT count(*), m.mailbox_id FROM messages m
		LEFT JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.id IS NULL GROUP BY m.mailbox_id`,
		"%d messages are in mailbox %d, which does not exist"},
	{"uid", `SELECT b.id, b.name, m.uid, b.uidnext FROM messages m
		JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.uid < 1 OR m.uid >= b.uidnext`,
		"mailbox %d (%s): message UID %d is not below UIDNEXT %d"},
	{"uid", `SELECT e.mailbox_id, e.uid FROM expunged e
		JOIN messages m ON m.mailbox_id = e.mailbox_id AND m.uid = e.uid`,
		"mailbox %d: UID %d is both a message and expunged"},
	{"modseq", `SELECT b.id, b.name, m.uid, m.modseq, b.highestmodseq FROM messages m
		JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.modseq > b.highestmodseq`,
		"mailbox %d (%s): message UID %d has MODSEQ %d, above HIGHESTMODSEQ %d"},
	{"modseq", `SELECT b.id, b.name, e.uid, e.modseq, b.highestmodseq FROM expunged e
		JOIN mailboxes b ON b.id = e.mailbox_id WHERE e.modseq > b.highestmodseq`,
		"mailbox %d (%s): expunged UID %d has MODSEQ %d, above HIGHESTMODSEQ %d"},
	{"modseq", `SELECT a.email, b.name, b.highestmodseq, b.created_modseq, b.meta_modseq, a.modseq FROM mailboxes b
		JOIN accounts a ON a.id = b.account_id
		WHERE b.highestmodseq > a.modseq OR b.created_modseq > a.modseq OR b.meta_modseq > a.modseq`,
		"account %s, mailbox %s: HIGHESTMODSEQ %d, created at %d, changed at %d, not all at most the account's modseq %d"},
	{"msgid", `SELECT a.email, b.name, m.uid, m.msgid, a.next_msgid FROM messages m
		JOIN mailboxes b ON b.id = m.mailbox_id JOIN accounts a ON a.id = b.account_id
		WHERE m.msgid >= a.next_msgid`,
		"account %s, mailbox %s: message UID %d has message id %d, not below the account's next %d"},
	{"quota", `SELECT a.email, coalesce(q.storage, -1), coalesce(q.messages, -1), coalesce(u.size, 0), coalesce(u.n, 0)
		FROM accounts a LEFT JOIN quota_accounts q ON q.account_id = a.id
		LEFT JOIN (SELECT b.account_id, CAST(sum(m.size) AS bigint) AS size, count(*) AS n
			FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id GROUP BY b.account_id) u ON u.account_id = a.id
		WHERE q.account_id IS NULL OR q.storage != coalesce(u.size, 0) OR q.messages != coalesce(u.n, 0)`,
		"account %s: its usage says %d bytes in %d messages (-1: no usage row), its mailboxes hold %d bytes in %d messages"},
	// An upload owns its body alone (no reference count): a body it
	// shared with a content would go with whichever went first.
	{"refs", `SELECT u.id, u.blob, c.id FROM uploads u JOIN contents c ON c.blob = u.blob WHERE c.blob != ''`,
		"upload %s names body %s, which content %d names too"},
	{"refs", `SELECT u.id, u.account_id FROM uploads u LEFT JOIN accounts a ON a.id = u.account_id WHERE a.id IS NULL`,
		"upload %s belongs to account %d, which does not exist"},
}
