package sqlitestore

import (
	"fmt"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// migrations are applied in order at Open; PRAGMA user_version records how
// many have run. Never edit a released migration: append a new one.
var migrations = []string{
	// 1: the initial schema. (2 and later add to it.)
	`
CREATE TABLE domains (
	id      INTEGER PRIMARY KEY,
	name    TEXT NOT NULL UNIQUE,
	created INTEGER NOT NULL
);

CREATE TABLE accounts (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	email            TEXT NOT NULL UNIQUE,
	domain_id        INTEGER NOT NULL REFERENCES domains(id),
	argon2id         TEXT NOT NULL,
	scram_sha256     TEXT NOT NULL,
	next_msgid       INTEGER NOT NULL DEFAULT 1,  -- per-account message IDs (POP3 UIDL), never reused
	next_uidvalidity INTEGER NOT NULL,            -- a recreated mailbox name never reuses a UIDVALIDITY
	created          INTEGER NOT NULL
);

CREATE TABLE account_settings (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	PRIMARY KEY (account_id, key)
) WITHOUT ROWID;

CREATE TABLE aliases (
	address   TEXT NOT NULL,
	target    TEXT NOT NULL,
	domain_id INTEGER NOT NULL REFERENCES domains(id),
	PRIMARY KEY (address, target)
) WITHOUT ROWID;

-- AUTOINCREMENT: a mailbox id (IMAP MAILBOXID) is never reused.
CREATE TABLE mailboxes (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	special_use   TEXT NOT NULL DEFAULT '',
	uidvalidity   INTEGER NOT NULL,
	uidnext       INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	UNIQUE (account_id, name)
);

CREATE TABLE subscriptions (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- One row per stored body; copies of a message share it (refs counts them).
-- Small bodies are kept inline (body) so a batch of deliveries costs one WAL
-- fsync; large ones are files in blobs/ (blob is their reference, else '').
CREATE TABLE contents (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	blob      TEXT NOT NULL,
	body      BLOB,
	size      INTEGER NOT NULL,
	structure BLOB NOT NULL,
	refs      INTEGER NOT NULL
);
-- Crash recovery looks bodies up by file reference.
CREATE INDEX contents_blob ON contents (blob) WHERE blob != '';

-- The hot table: clustered by (mailbox, uid) so opening a mailbox is one range scan.
CREATE TABLE messages (
	mailbox_id    INTEGER NOT NULL,
	uid           INTEGER NOT NULL,
	msgid         INTEGER NOT NULL,
	content_id    INTEGER NOT NULL,
	modseq        INTEGER NOT NULL,
	flags         INTEGER NOT NULL,
	keywords      TEXT NOT NULL DEFAULT '',
	internal_date INTEGER NOT NULL,
	size          INTEGER NOT NULL,
	prefix        BLOB,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);

-- Expunge history for QRESYNC VANISHED.
CREATE TABLE expunged (
	mailbox_id INTEGER NOT NULL,
	uid        INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

-- Bodies no longer referenced; their files are removed after the commit.
CREATE TABLE blob_trash (
	blob TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Messages a POP3 client deleted in "keep" mode (by per-account message ID).
CREATE TABLE pop3_hidden (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	msgid      INTEGER NOT NULL,
	PRIMARY KEY (account_id, msgid)
) WITHOUT ROWID;

-- Coarse log of committed changes, read by other processes sharing the
-- database (admin commands, a second node) to feed their subscribers.
CREATE TABLE changelog (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	origin     INTEGER NOT NULL,
	account_id INTEGER NOT NULL,
	mailbox_id INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	kind       INTEGER NOT NULL,
	created    INTEGER NOT NULL
);
`,
	// 2: the APOP secret, kept only where pop3.apop was on when the password was set.
	`ALTER TABLE accounts ADD COLUMN apop_secret TEXT NOT NULL DEFAULT '';`,
	// 3: the outbound queue. Times are Unix milliseconds.
	`
CREATE TABLE queue (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	content_id INTEGER NOT NULL,
	prefix     BLOB,
	sender     TEXT NOT NULL,
	envid      TEXT NOT NULL DEFAULT '',
	ret        TEXT NOT NULL DEFAULT '',
	utf8       INTEGER NOT NULL DEFAULT 0,
	eightbit   INTEGER NOT NULL DEFAULT 0,
	size       INTEGER NOT NULL,
	created    INTEGER NOT NULL
);
CREATE TABLE queue_recipients (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	queue_id     INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
	address      TEXT NOT NULL,
	domain       TEXT NOT NULL,
	notify       TEXT NOT NULL DEFAULT '',
	orcpt        TEXT NOT NULL DEFAULT '',
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	last_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	lease_owner  TEXT NOT NULL DEFAULT '',
	lease_until  INTEGER NOT NULL DEFAULT 0,
	warned       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_recipients_due ON queue_recipients (next_attempt);
CREATE INDEX queue_recipients_message ON queue_recipients (queue_id);
`,
	// 4: app passwords, and whom vacation notices went to. Times are Unix seconds.
	`
CREATE TABLE app_passwords (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a revoked id stays revoked
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	argon2id   TEXT NOT NULL,
	created    INTEGER NOT NULL,
	last_used  INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);
CREATE TABLE vacation_replies (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	sender     TEXT NOT NULL,
	sent       INTEGER NOT NULL,
	PRIMARY KEY (account_id, sender)
) WITHOUT ROWID;
CREATE INDEX vacation_replies_sent ON vacation_replies (sent);
`,
	// 5: DMARC evaluations of received mail, counted per day until reported
	// (RFC 7489 7.2). day is Unix seconds of UTC midnight.
	`
CREATE TABLE dmarc_results (
	day           INTEGER NOT NULL,
	policy_domain TEXT NOT NULL,
	policy        TEXT NOT NULL,
	report_to     TEXT NOT NULL,
	source_ip     TEXT NOT NULL,
	header_from   TEXT NOT NULL,
	envelope_from TEXT NOT NULL,
	disposition   TEXT NOT NULL,
	dkim          TEXT NOT NULL,
	spf           TEXT NOT NULL,
	override      TEXT NOT NULL,
	auth_results  TEXT NOT NULL,
	count         INTEGER NOT NULL,
	PRIMARY KEY (day, policy_domain, source_ip, header_from, envelope_from, disposition, dkim, spf, override, auth_results, policy, report_to)
) WITHOUT ROWID;
`,
	// 6: the junk filter's models. account_id 0 is the shared base model
	// (no account row, hence no foreign key: DeleteAccount deletes an
	// account's rows itself). hash is junk.Hash as a signed 64-bit integer;
	// a token's stamp is its model's clock (a count of trainings) when it
	// was last learned, so pruning drops what was learned longest ago
	// first among equally rare tokens, as junk.Model.Prune does.
	// junk_trained remembers what each message (by content, so every copy
	// of it) was trained as, keyed content first so that releasing a body
	// forgets it.
	`
CREATE TABLE junk_models (
	account_id INTEGER PRIMARY KEY,
	spam       INTEGER NOT NULL DEFAULT 0,
	ham        INTEGER NOT NULL DEFAULT 0,
	tokens     INTEGER NOT NULL DEFAULT 0,
	clock      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE junk_tokens (
	account_id INTEGER NOT NULL,
	hash       INTEGER NOT NULL,
	spam       INTEGER NOT NULL,
	ham        INTEGER NOT NULL,
	stamp      INTEGER NOT NULL,
	PRIMARY KEY (account_id, hash)
) WITHOUT ROWID;
CREATE TABLE junk_trained (
	content_id INTEGER NOT NULL,
	account_id INTEGER NOT NULL,
	class      INTEGER NOT NULL,
	PRIMARY KEY (content_id, account_id)
) WITHOUT ROWID;
`,
	// 7: the webmail's login sessions, keyed by the SHA-256 of the cookie's
	// token (never the token). Times are Unix seconds; the indexes serve
	// "log out this account" and the pruning of expired sessions.
	`
CREATE TABLE web_sessions (
	token_hash BLOB PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	admin      INTEGER NOT NULL DEFAULT 0,
	created    INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_account ON web_sessions (account_id, last_seen);
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen);
CREATE INDEX web_sessions_created ON web_sessions (created);
`,
	// 8: what several nodes share (store.SharedFiles, store.Leases; see
	// shared.go). A lease's expires is Unix milliseconds; modified is Unix
	// seconds.
	`
CREATE TABLE shared_files (
	name     TEXT PRIMARY KEY,
	data     BLOB NOT NULL,
	modified INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE leases (
	name    TEXT PRIMARY KEY,
	owner   TEXT NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// 9: the login throttle's counts (store.LoginCounts): a decaying
	// failure count, or a trust record, per key; updated is Unix
	// milliseconds.
	`
CREATE TABLE login_counts (
	key     TEXT PRIMARY KEY,
	count   REAL NOT NULL,
	updated INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_counts_updated ON login_counts (updated);
`,
	// 10: conversations (store.Threads, threads.go). Every message gets a
	// thread id; existing messages start as threads of their own (their
	// own message ID) until RethreadAccount groups them. The index lists
	// a thread's messages one mailbox of the account at a time.
	// thread_keys maps the hash of a Message-ID seen in the account (own
	// id, In-Reply-To, kept References) to the threads of the messages
	// that carried it, with the hash of their base subject; rows are never
	// updated, only added, and go with the account (see threads.go for why
	// rows of expunged messages may stay).
	`
ALTER TABLE messages ADD COLUMN thread_id INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET thread_id = msgid;
CREATE INDEX messages_thread ON messages (thread_id, mailbox_id);
CREATE TABLE thread_keys (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	key        INTEGER NOT NULL,
	thread_id  INTEGER NOT NULL,
	subject    INTEGER NOT NULL,
	PRIMARY KEY (account_id, key, thread_id)
) WITHOUT ROWID;
`,
	// 11: the full-text index (textindex.go): one row per content,
	// rowid = contents.id, folded text per field, trigram-tokenized.
	`
CREATE VIRTUAL TABLE content_text USING fts5(
	hdr, body, h_from, h_to, h_cc, h_bcc, h_subject,
	tokenize = 'trigram case_sensitive 1', detail = none
);
-- Which contents are indexed, and whether in full: kept apart from
-- content_text, whose rows hold the whole text.
CREATE TABLE content_indexed (
	content_id INTEGER PRIMARY KEY,
	full_body  INTEGER NOT NULL
);
-- A reindex walks messages in content order (UnindexedContents).
CREATE INDEX messages_content ON messages (content_id);
`,
	// 12: the format of each index entry (store.TextFormat): entries made
	// before it are format 1, which lacked the MIME part headers TEXT
	// searches; they answer TEXT by reading until reindexed.
	`
ALTER TABLE content_indexed ADD COLUMN text_format INTEGER NOT NULL DEFAULT 1;
`,
	// 13: short grams for 1–2 character CJK needles (textindex.go,
	// store.ShortGrams): a contentless FTS5 table of the gram tokens of
	// each content, rowid = contents.id; content_indexed.grams says the
	// content's grams are there (contents indexed before are scanned).
	`
CREATE VIRTUAL TABLE content_grams USING fts5(
	grams, content = '', contentless_delete = 1, tokenize = 'ascii', detail = none
);
INSERT INTO content_grams (content_grams, rank) VALUES ('automerge', 16);
ALTER TABLE content_indexed ADD COLUMN grams INTEGER NOT NULL DEFAULT 0;
`,
	// 14: text waiting for the full-text index (textpending.go): written
	// with the delivery, moved into content_text and content_grams by the
	// background indexer, scanned by searches meanwhile; the entries of
	// removed contents that the indexer is to delete; and the header
	// fields, kept apart from the FTS5 rows.
	`
CREATE TABLE content_text_pending (
	content_id INTEGER PRIMARY KEY,
	hdr TEXT NOT NULL, body TEXT NOT NULL, grams TEXT NOT NULL
);
-- Index entries of contents that are gone, for the indexer to delete
-- (FTS5 tokenizes a row again to delete it): until then they match no
-- message, content ids never being reused (AUTOINCREMENT).
CREATE TABLE content_text_dead (content_id INTEGER PRIMARY KEY);
-- The short header fields (FROM, TO, CC, BCC, SUBJECT), apart: scanning
-- these small rows beats the trigram lookup, whose check of a match reads
-- the FTS5 row up to its h_ columns, past the whole body (62-111 ms
-- against 8.5 over 20,000 messages). content_text's h_ columns are left
-- empty from now on.
CREATE TABLE content_fields (
	content_id INTEGER PRIMARY KEY,
	h_from TEXT NOT NULL, h_to TEXT NOT NULL, h_cc TEXT NOT NULL, h_bcc TEXT NOT NULL, h_subject TEXT NOT NULL
);
INSERT INTO content_fields (content_id, h_from, h_to, h_cc, h_bcc, h_subject)
	SELECT t.rowid, t.h_from, t.h_to, t.h_cc, t.h_bcc, t.h_subject FROM content_text t
	WHERE t.rowid IN (SELECT content_id FROM content_indexed);
`,
	// 15: the trigram index with positions (detail=full), so that a needle
	// is found as a phrase of its trigrams, exactly, without reading the
	// text of every row that merely holds them all (textindex.go); and no
	// h_ columns (content_fields has them). FTS5 cannot change a table's
	// detail in place: the live entries' text goes back to
	// content_text_pending, which searches scan until the background
	// indexer has moved it into the new table (their grams are in
	// content_grams already: '' adds none), and the old table goes.
	// Entries of removed contents (content_text_dead) stay listed, for
	// the indexer to delete their grams.
	`
CREATE VIRTUAL TABLE content_text_full USING fts5(
	hdr, body,
	tokenize = 'trigram case_sensitive 1', detail = full
);
INSERT OR IGNORE INTO content_text_pending (content_id, hdr, body, grams)
	SELECT t.rowid, t.hdr, t.body, '' FROM content_text t
	WHERE t.rowid IN (SELECT content_id FROM content_indexed);
DROP TABLE content_text;
ALTER TABLE content_text_full RENAME TO content_text;
`,
	// 16: what a search must answer without the index, kept small
	// (textindex.go): content_unindexed lists the contents that are not
	// fully indexed in the current format (store.TextFormat, here 2: the
	// trigger's condition; TestUnindexedFormat holds them equal), kept by
	// triggers wherever contents and index entries come and go; and an
	// index of the messages with a per-copy header prefix.
	`
CREATE TABLE content_unindexed (content_id INTEGER PRIMARY KEY);
` + fillUnindexed + `
CREATE TRIGGER content_unindexed_new AFTER INSERT ON contents BEGIN
	INSERT OR IGNORE INTO content_unindexed (content_id) VALUES (new.id);
END;
CREATE TRIGGER content_unindexed_gone AFTER DELETE ON contents BEGIN
	DELETE FROM content_unindexed WHERE content_id = old.id;
END;
` + indexedTrigger + `
CREATE TRIGGER content_unindexed_dropped AFTER DELETE ON content_indexed BEGIN
	INSERT OR IGNORE INTO content_unindexed (content_id)
		SELECT id FROM contents WHERE id = old.content_id;
END;
CREATE INDEX messages_prefixed ON messages (mailbox_id, uid) WHERE prefix IS NOT NULL;
`,
	// 17: mailboxes' access control lists (RFC 4314, acl.go). rights is
	// an acl.Rights bit set; the identifier index finds what is shared
	// with a user.
	`
CREATE TABLE mailbox_acl (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	identifier TEXT NOT NULL,
	rights     INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, identifier)
) WITHOUT ROWID;
CREATE INDEX mailbox_acl_identifier ON mailbox_acl (identifier, mailbox_id);
`,
	// 18: quotas (store.Quotas, quota.go). quota_accounts holds each
	// account's usage, kept exactly by every transaction that adds or
	// removes messages, its own limits, and the warning levels its owner
	// was told of; quota_domains and quota_server the defaults above it.
	// A limit is NULL (inherit the level above), -1 (unlimited) or a
	// number; nothing set at the server is unlimited. The usage of the
	// accounts that exist is counted here, once.
	`
CREATE TABLE quota_accounts (
	account_id      INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	storage         INTEGER NOT NULL DEFAULT 0,
	messages        INTEGER NOT NULL DEFAULT 0,
	limit_storage   INTEGER,
	limit_messages  INTEGER,
	warned_storage  INTEGER NOT NULL DEFAULT 0,
	warned_messages INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE quota_domains (
	domain_id      INTEGER PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
	limit_storage  INTEGER,
	limit_messages INTEGER
);
CREATE TABLE quota_server (
	id             INTEGER PRIMARY KEY CHECK (id = 1),
	limit_storage  INTEGER,
	limit_messages INTEGER
);
INSERT INTO quota_accounts (account_id, storage, messages)
	SELECT a.id, coalesce(sum(m.size), 0), count(m.uid)
	FROM accounts a LEFT JOIN mailboxes b ON b.account_id = a.id LEFT JOIN messages m ON m.mailbox_id = b.id
	GROUP BY a.id;
`,
	// 19: shared mailboxes (store.Account.Shared): accounts that belong to
	// a domain, which nobody logs in as.
	`
ALTER TABLE accounts ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
`,
	// 20: who may send as whom (store.Delegations, delegation.go). A
	// grantee is an address or "@domain" by its text, as in mailbox_acl;
	// the grantee index finds what a user may send as (DelegatedTo, on
	// submission's first foreign From:) and the grants naming an account
	// or domain being deleted. mode is a store.DelegationMode.
	`
CREATE TABLE delegations (
	owner_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	grantee  TEXT NOT NULL,
	mode     INTEGER NOT NULL,
	PRIMARY KEY (owner_id, grantee)
) WITHOUT ROWID;
CREATE INDEX delegations_grantee ON delegations (grantee, owner_id);
`,
	// 21: annotations (IMAP METADATA, store.Metadata, metadata.go).
	// owner_id is 0 for a /shared entry, else the account whose /private
	// entry it is: not a foreign key, since 0 names no account, so
	// DeleteAccount removes an account's private entries itself (the
	// owner index finds them). A mailbox's entries go with it (the
	// cascade). Ordinary rowid tables: a value may be 64 KiB, too large
	// for WITHOUT ROWID's clustered rows.
	`
CREATE TABLE mailbox_metadata (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	owner_id   INTEGER NOT NULL,
	name       TEXT NOT NULL,
	value      BLOB NOT NULL,
	PRIMARY KEY (mailbox_id, owner_id, name)
);
CREATE INDEX mailbox_metadata_owner ON mailbox_metadata (owner_id) WHERE owner_id != 0;
CREATE TABLE server_metadata (
	owner_id INTEGER NOT NULL,
	name     TEXT NOT NULL,
	value    BLOB NOT NULL,
	PRIMARY KEY (owner_id, name)
);
`,
	// 22: per-user \Seen in shared mailboxes (store.PrivateSeen, seen.go).
	// shared_seen: everyone uses the messages' own \Seen. private_seen:
	// one row per message an account other than the owner has seen, where
	// it is not; rows go with their message (expunge and move delete
	// them, in the same transaction), mailbox and account. The key serves
	// the removal with a message; the reader index a user's set and the
	// account's cascade.
	`
ALTER TABLE mailboxes ADD COLUMN shared_seen INTEGER NOT NULL DEFAULT 0;
CREATE TABLE private_seen (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	uid        INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid, account_id)
) WITHOUT ROWID;
CREATE INDEX private_seen_reader ON private_seen (account_id, mailbox_id, uid);
`,
	// 23: Sieve scripts (store.SieveScripts, sieve.go). One row per script
	// of an account, keyed by its name (case-sensitive, BINARY); a rowid
	// table, as a script may be 1 MiB. The partial unique index lets an
	// account have at most one active script whatever a write does.
	// sieve_duplicates: RFC 7352 duplicate tracking, the SHA-256 of each
	// id (store.SieveDuplicateKey) until it expires (Unix seconds); the
	// expires index serves the pruning of every account's expired rows
	// (RecordSieveDuplicate). Both tables go with the account.
	`
CREATE TABLE sieve_scripts (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	content    TEXT NOT NULL,
	active     INTEGER NOT NULL DEFAULT 0,
	updated    INTEGER NOT NULL,
	PRIMARY KEY (account_id, name)
);
CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts (account_id) WHERE active;
CREATE TABLE sieve_duplicates (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	id         BLOB NOT NULL,
	expires    INTEGER NOT NULL,
	PRIMARY KEY (account_id, id)
) WITHOUT ROWID;
CREATE INDEX sieve_duplicates_expires ON sieve_duplicates (expires);
`,
	// 24: sources to collect mail from (store.FetchSources, fetch.go).
	// fetch_sources: one row per remote mailbox of an account, its
	// settings (the remote password in clear: it has to be presented
	// to the other server), its status and an IMAP source's cursor.
	// fetch_uids: the POP3 unique ids collected, pruned to those still
	// on the remote. Both go with the account.
	`
CREATE TABLE fetch_sources (
	id           INTEGER PRIMARY KEY,
	account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	protocol     TEXT NOT NULL,
	host         TEXT NOT NULL,
	port         INTEGER NOT NULL,
	security     TEXT NOT NULL,
	username     TEXT NOT NULL,
	password     TEXT NOT NULL,
	folder       TEXT NOT NULL,
	mailbox      TEXT NOT NULL,
	delete_after INTEGER NOT NULL,
	mark_read    INTEGER NOT NULL,
	enabled      INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	last_attempt INTEGER NOT NULL DEFAULT 0,
	last_success INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	failures     INTEGER NOT NULL DEFAULT 0,
	fetched      INTEGER NOT NULL DEFAULT 0,
	uid_validity INTEGER NOT NULL DEFAULT 0,
	last_uid     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX fetch_sources_account ON fetch_sources (account_id);
CREATE TABLE fetch_uids (
	source_id INTEGER NOT NULL REFERENCES fetch_sources(id) ON DELETE CASCADE,
	uid       TEXT NOT NULL,
	PRIMARY KEY (source_id, uid)
) WITHOUT ROWID;
`,
	// 25: one modseq counter per account, for JMAP states
	// (store.AccountChanges, accountchanges.go). accounts.modseq is the
	// account's highest modseq: every new modseq of one of its mailboxes
	// is it plus one, so it starts at the highest any of them has.
	// mailboxes.created_modseq and meta_modseq stamp the mailbox record
	// (0 for mailboxes made before this). vanished records, per account,
	// every message row that left a mailbox, and mailbox_tombstones every
	// deleted mailbox, with the modseq of the change; both go with the
	// account.
	`
ALTER TABLE accounts ADD COLUMN modseq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN created_modseq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN meta_modseq INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET modseq = max(
	coalesce((SELECT max(m.highestmodseq) FROM mailboxes m WHERE m.account_id = accounts.id), 0),
	coalesce((SELECT max(e.modseq) FROM expunged e JOIN mailboxes m ON m.id = e.mailbox_id WHERE m.account_id = accounts.id), 0));
CREATE TABLE vanished (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	modseq     INTEGER NOT NULL,
	msgid      INTEGER NOT NULL,
	thread_id  INTEGER NOT NULL,
	PRIMARY KEY (account_id, modseq, msgid)
) WITHOUT ROWID;
CREATE TABLE mailbox_tombstones (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	modseq     INTEGER NOT NULL,
	mailbox_id INTEGER NOT NULL,
	PRIMARY KEY (account_id, modseq, mailbox_id)
) WITHOUT ROWID;
`,
	// 26: JMAP uploads (store.Uploads, uploads.go): a blob a client
	// uploaded, until it is used or expires (store.UploadLifetime). blob
	// names the body file in blobs/ (never inline: an upload is streamed
	// to disk whatever its size); an upload owns its body alone (UNIQUE,
	// which also serves the crash sweep's "is this file referenced?").
	// sha256 is of the bytes; created is Unix seconds, indexed for the
	// expiry. Rows go with the account; their files are released through
	// blob_trash like contents' (DeleteAccount, DeleteExpiredUploads).
	`
CREATE TABLE uploads (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	id         TEXT NOT NULL,
	blob       TEXT NOT NULL,
	type       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	sha256     BLOB NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (account_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX uploads_blob ON uploads (blob);
CREATE INDEX uploads_created ON uploads (created);
`,
	// 27: bearer tokens for apps (store.AccessTokens, accesstokens.go):
	// the SHA-256 of each token's secret (never the secret), unique so
	// that a request's token is found by it; name unique per account;
	// times are Unix seconds, expires 0 for never, last_used 0 for never
	// used. AUTOINCREMENT: a revoked token's id is never reused. They go
	// with the account.
	`
CREATE TABLE access_tokens (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	token_hash BLOB NOT NULL UNIQUE,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL DEFAULT 0,
	last_used  INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);
`,
	// 28: JMAP EmailSubmission records (store.EmailSubmissions,
	// submission.go), kept store.EmailSubmissionKeep. rcpt_to is the
	// envelope's recipients, one per line; send_at is Unix seconds.
	`
CREATE TABLE email_submissions (
	id          INTEGER PRIMARY KEY,
	account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	identity_id TEXT NOT NULL,
	email_id    INTEGER NOT NULL,
	thread_id   INTEGER NOT NULL,
	mail_from   TEXT NOT NULL,
	rcpt_to     TEXT NOT NULL,
	send_at     INTEGER NOT NULL
);
CREATE INDEX email_submissions_account ON email_submissions (account_id, id);
CREATE INDEX email_submissions_send_at ON email_submissions (send_at);
`,
	// 29: held JMAP submissions (FUTURERELEASE, submission.go), as
	// PostgreSQL's migration 22. undo_status is pending, final or
	// canceled; created and modseq order the account's submission changes
	// for JMAP /changes (the rows before start from their ids); owners are
	// account ids, one per line; auth_user is the login that submitted;
	// msg is the message a pending one sends (NULL once released or
	// canceled); lease_owner and lease_until (Unix ms) are the claim of
	// the process releasing it.
	`
ALTER TABLE email_submissions ADD COLUMN undo_status TEXT NOT NULL DEFAULT 'final';
ALTER TABLE email_submissions ADD COLUMN created INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_submissions ADD COLUMN modseq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_submissions ADD COLUMN owners TEXT NOT NULL DEFAULT '';
ALTER TABLE email_submissions ADD COLUMN auth_user TEXT NOT NULL DEFAULT '';
ALTER TABLE email_submissions ADD COLUMN msg BLOB;
ALTER TABLE email_submissions ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE email_submissions ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
UPDATE email_submissions SET created = id, modseq = id;
CREATE INDEX email_submissions_pending ON email_submissions (send_at) WHERE undo_status = 'pending';
`,
	// 30: collected contacts for address suggestions (store.Contacts,
	// contacts.go). email_key is the address in lower case; terms the
	// text Suggest matches (store.ContactTerms); last_seen Unix seconds.
	// contact_terms indexes each contact by its terms (the address and
	// the name's words, store.ContactRow.Words): Suggest finds the few
	// contacts a word starts by a range of its primary key, or, when many
	// match (a first letter), walks contacts_rank, Suggest's order, and
	// stops at its limit, probing contact_terms_contact for each; they go with their contact, contacts with the account.
	`
CREATE TABLE contacts (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	email_key  TEXT NOT NULL,
	email      TEXT NOT NULL,
	name       TEXT NOT NULL,
	terms      TEXT NOT NULL,
	sent       INTEGER NOT NULL,
	received   INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (account_id, email_key)
) WITHOUT ROWID;
CREATE TABLE contact_terms (
	account_id INTEGER NOT NULL,
	term       TEXT NOT NULL,
	email_key  TEXT NOT NULL,
	PRIMARY KEY (account_id, term, email_key),
	FOREIGN KEY (account_id, email_key) REFERENCES contacts (account_id, email_key) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX contact_terms_contact ON contact_terms (account_id, email_key, term);
CREATE INDEX contacts_rank ON contacts (account_id, sent DESC, received DESC, last_seen DESC, email_key);
`,
}

// indexedTrigger takes a content off content_unindexed once it is fully
// indexed in the current format, and puts it back if an entry is changed
// to less (migration 16).
const indexedTrigger = `
CREATE TRIGGER content_unindexed_indexed AFTER INSERT ON content_indexed
WHEN new.full_body AND new.text_format >= 2 BEGIN
	DELETE FROM content_unindexed WHERE content_id = new.content_id;
END;
CREATE TRIGGER content_unindexed_changed AFTER UPDATE OF full_body, text_format ON content_indexed BEGIN
	DELETE FROM content_unindexed WHERE content_id = new.content_id AND new.full_body AND new.text_format >= 2;
	INSERT OR IGNORE INTO content_unindexed (content_id)
		SELECT new.content_id WHERE NOT (new.full_body AND new.text_format >= 2);
END;
`

// fillUnindexed lists in content_unindexed every content that is not
// fully indexed in the current format (migration 16).
const fillUnindexed = `
INSERT OR IGNORE INTO content_unindexed (content_id)
	SELECT c.id FROM contents c WHERE NOT EXISTS (SELECT 1 FROM content_indexed t
		WHERE t.content_id = c.id AND t.full_body AND t.text_format >= 2);
`

// migrate applies the migrations not yet applied, each in its own
// transaction, so a crash mid-upgrade leaves a consistent schema version.
func migrate(conn *sqlite.Conn) (err error) {
	for {
		var version int
		if err := sqlitex.ExecuteTransient(conn, "PRAGMA user_version", &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { version = stmt.ColumnInt(0); return nil },
		}); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this mailroom (%d): refusing to open", version, len(migrations))
		}
		if version == len(migrations) {
			return repairAfterMigrations(conn)
		}
		if err := applyMigration(conn, version); err != nil {
			return err
		}
	}
}

func applyMigration(conn *sqlite.Conn, version int) (err error) {
	end, err := sqlitex.ImmediateTransaction(conn)
	if err != nil {
		return fmt.Errorf("migration %d: %w", version+1, err)
	}
	defer end(&err)
	// Re-check under the write lock: another process may have migrated meanwhile.
	var now int
	if err := sqlitex.ExecuteTransient(conn, "PRAGMA user_version", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { now = stmt.ColumnInt(0); return nil },
	}); err != nil {
		return err
	}
	if now != version {
		return nil
	}
	// Released migrations that were changed afterwards (repair.go).
	repair := map[int]func(*sqlite.Conn) error{1: repairMigration1, 14: repairMigration14}[version]
	if repair != nil {
		if err := repair(conn); err != nil {
			return fmt.Errorf("migration %d: %w", version+1, err)
		}
	}
	if err := sqlitex.ExecuteScript(conn, migrations[version], nil); err != nil {
		return fmt.Errorf("migration %d: %w", version+1, err)
	}
	return sqlitex.ExecuteTransient(conn, fmt.Sprintf("PRAGMA user_version = %d", version+1), nil)
}
