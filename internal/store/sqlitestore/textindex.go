package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// The full-text index is the FTS5 table content_text (migrations 11, 15):
// one row per content, rowid = contents.id, columns hdr and body, with the
// trigram tokenizer so that any substring of three characters or more is
// found through the index, whatever the language (no word splitting, so
// Chinese and Japanese work as well as German), and with the trigrams'
// positions (detail=full), so that a needle is found exactly, as a phrase
// (the positions cost disk: 1.0 GB of index for 100,000 messages, against
// 95 MB without). case_sensitive 1: the text and the needles are already
// folded by package search, and FTS5 must not fold differently. Shorter
// needles are answered by scanning the stored text (instr), still
// without reading a message. content_indexed says which contents are
// indexed, and whether their body is (full_body): a small table, so that
// finding the messages the index cannot answer does not read their text,
// and of which format (text_format, store.TextFormat) each entry is.
//
// A needle of one or two CJK characters is looked up in content_grams
// (migration 13, see store.ShortGrams): a contentless FTS5 table, ascii
// tokenizer (every non-ASCII character is a token character, so each
// space-separated gram is one token), detail=none, holding for each
// content the field-marked characters and character pairs of its CJK
// text. The lookup is exact. Contents indexed before migration 13
// (content_indexed.grams = 0) are scanned as before until a reindex.

// fieldColumn is the content_fields column of a header field (FROM, TO,
// CC, BCC, SUBJECT): those are searched by scanning their small rows.
var fieldColumn = [...]string{
	store.TextFrom:    "h_from",
	store.TextTo:      "h_to",
	store.TextCc:      "h_cc",
	store.TextBcc:     "h_bcc",
	store.TextSubject: "h_subject",
}

// ftsColumns maps the other fields to their content_text column(s).
func ftsColumns(f store.TextField) []string {
	switch f {
	case store.TextHeader:
		return []string{"hdr"}
	case store.TextBody:
		return []string{"body"}
	case store.TextAll:
		return []string{"hdr", "body"}
	}
	return nil
}

// SetText implements store.TextStager. The grams are made here, by the
// delivering goroutine, not in the writer that every delivery waits for.
func (m *staged) SetText(doc *store.TextDoc) {
	grams := gramText(doc)
	m.mu.Lock()
	m.text, m.grams = doc, grams
	m.mu.Unlock()
}

func (m *staged) textGrams() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.grams
}

// gramText is a content's row of content_grams: its short grams,
// space-separated (” for none).
func gramText(doc *store.TextDoc) string {
	if doc == nil {
		return ""
	}
	return strings.Join(store.ShortGrams(doc), " ")
}

func (m *staged) textDoc() *store.TextDoc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.text
}

// insertText writes a content's index row, with its grams (gramText).
func (tx *txn) insertText(contentID int64, d *store.TextDoc, grams string) error {
	if err := tx.deleteText(contentID); err != nil {
		return err
	}
	if err := tx.exec("INSERT INTO content_text (rowid, hdr, body) VALUES (?, ?, ?)", contentID, d.Header, d.Body); err != nil {
		return err
	}
	if err := tx.insertFields(contentID, d); err != nil {
		return err
	}
	// No row for a content without CJK text: nothing to look up, and no
	// FTS5 work on the delivery.
	if grams != "" {
		if err := tx.exec("INSERT INTO content_grams (rowid, grams) VALUES (?, ?)", contentID, grams); err != nil {
			return err
		}
	}
	return tx.exec("INSERT INTO content_indexed (content_id, full_body, text_format, grams) VALUES (?, ?, ?, 1)", contentID, d.BodyComplete, store.TextFormat)
}

// insertFields writes a content's header fields.
func (tx *txn) insertFields(contentID int64, d *store.TextDoc) error {
	return tx.exec("INSERT INTO content_fields (content_id, h_from, h_to, h_cc, h_bcc, h_subject) VALUES (?, ?, ?, ?, ?, ?)",
		contentID, d.From, d.To, d.Cc, d.Bcc, d.Subject)
}

// deleteText removes a content's index entry, if any, now: for an entry
// about to be replaced (insertText).
func (tx *txn) deleteText(contentID int64) error {
	for _, q := range []string{
		"DELETE FROM content_text_pending WHERE content_id = ?",
		"DELETE FROM content_text WHERE rowid = ?",
		"DELETE FROM content_grams WHERE rowid = ?",
		"DELETE FROM content_text_dead WHERE content_id = ?",
		"DELETE FROM content_fields WHERE content_id = ?",
		"DELETE FROM content_indexed WHERE content_id = ?",
	} {
		if err := tx.exec(q, contentID); err != nil {
			return err
		}
	}
	return nil
}

// dropText removes the index entry of a content that is gone. Text still
// pending goes at once; an indexed entry is only unlinked (its
// content_indexed row) and left to the indexer to delete from the FTS5
// tables (textpending.go), which would otherwise tokenize the whole text
// again inside the expunge's transaction.
func (tx *txn) dropText(contentID int64) error {
	if err := tx.exec("DELETE FROM content_indexed WHERE content_id = ?", contentID); err != nil {
		return err
	}
	if tx.conn.Changes() == 0 {
		return nil // never indexed
	}
	if err := tx.exec("DELETE FROM content_fields WHERE content_id = ?", contentID); err != nil {
		return err
	}
	if err := tx.exec("DELETE FROM content_text_pending WHERE content_id = ?", contentID); err != nil {
		return err
	}
	if tx.conn.Changes() > 0 {
		return nil // pending: never in the FTS5 tables
	}
	tx.deadText++
	return tx.exec("INSERT OR IGNORE INTO content_text_dead (content_id) VALUES (?)", contentID)
}

// maxPhrase bounds the characters of a needle looked up in the trigram
// index (a 60 KB search string must not become a 60,000-trigram query);
// the rest of a longer needle is checked on the stored text.
const maxPhrase = 64

// ftsJoin goes from the rows FTS5 finds to the mailbox's messages holding
// them: joined, not `content_id IN (subquery)`, which made SQLite copy
// every matching rowid into a temporary index first (7% of a common
// word's search).
const ftsJoin = "content_text t CROSS JOIN messages m ON m.content_id = t.rowid"

// maxExactPhrase is the longest needle (in characters) looked up as one
// FTS5 phrase, exactly (phraseMatch); longer ones are looked up by their
// trigrams and checked on the stored text (trigramMatch).
const maxExactPhrase = 26

// phraseMatch is the FTS5 query for the rows whose columns cols (both of
// content_text's when both) hold s (3 characters or more): one quoted
// phrase, which the trigram tokenizer makes a phrase of s's trigrams at
// consecutive positions, i.e. s itself.
func phraseMatch(cols []string, s string) string {
	phrase := ftsString(s)
	if len(cols) == 1 {
		return cols[0] + " : " + phrase
	}
	return phrase
}

// ftsString is s as an FTS5 string (a phrase, or with the trigram
// tokenizer one token for 3 characters): quoted, its quotes doubled.
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// trigramMatch is the FTS5 query for the rows holding the trigrams that
// tile s (3 characters or more): those starting at every third character,
// and the last, each a quoted string, which the trigram tokenizer turns
// into exactly that one token, ANDed. The rows holding every trigram are
// hardly fewer, and each trigram is one more list for FTS5 to read (a
// 30-character phrase at 20,000 messages: 102 ms by all 28, 86 by these).
// The stored text decides.
func trigramMatch(s string) string {
	r := []rune(s)
	seen := map[string]bool{}
	var terms []string
	add := func(i int) {
		g := string(r[i : i+3])
		if !seen[g] {
			seen[g] = true
			terms = append(terms, ftsString(g))
		}
	}
	for i := 0; i+3 <= len(r); i += 3 {
		add(i)
	}
	if len(r)%3 != 0 {
		add(len(r) - 3)
	}
	return strings.Join(terms, " AND ")
}

// SearchText implements store.TextIndexer.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, queries []store.TextQuery, within []uint32) (store.TextResult, error) {
	res := store.TextResult{Hits: make([][]uint32, len(queries))}
	// The mailbox's messages, or only those within: a list of UIDs looked
	// up one by one (json_each: one parameter however many).
	from := func(join string) string {
		if within == nil {
			return "messages m " + join + " WHERE m.mailbox_id = ?1"
		}
		return "json_each(?4) j CROSS JOIN messages m ON m.mailbox_id = ?1 AND m.uid = j.value " + join + " WHERE 1"
	}
	list := ""
	if within != nil {
		list = uidList(within)
	}
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		// One read transaction: every answer is of the same snapshot.
		// Every query binds ?1 mailbox, ?2 needle, ?3 GLOB pattern ('' when
		// unused), so that the arguments are the same for all, and ?4 the
		// UIDs within when there are.
		if err := execConn(conn, "BEGIN", nil); err != nil {
			return err
		}
		defer execConn(conn, "COMMIT", nil)
		for i, q := range queries {
			if q.Needle == "" || strings.ContainsAny(q.Needle, "\n\x00") || q.Field > store.TextAll {
				return fmt.Errorf("%w: text query %d", store.ErrInvalid, i)
			}
			if q.Field <= store.TextSubject {
				// A header field: scan the small rows of content_fields,
				// pending contents' included.
				args := []any{mailboxID, q.Needle}
				if within != nil {
					args = append(args, nil, list) // ?4
				}
				hits, err := queryUIDs(conn, "SELECT m.uid FROM "+from("JOIN content_fields f ON f.content_id = m.content_id")+
					" AND instr(CAST(f."+fieldColumn[q.Field]+" AS BLOB), CAST(?2 AS BLOB)) > 0", args...)
				if err != nil {
					return err
				}
				res.Hits[i] = hits
				continue
			}
			cols := ftsColumns(q.Field)
			conds := make([]string, len(cols))
			for j, c := range cols {
				conds[j] = "instr(CAST(t." + c + " AS BLOB), CAST(?2 AS BLOB)) > 0" // bytes: no counting of characters
			}
			scan := "(" + strings.Join(conds, " OR ") + ")"
			var query, pattern string
			if within != nil {
				// Few messages: their stored text decides, no lookup.
				query = "SELECT m.uid FROM " + from("JOIN content_text t ON t.rowid = m.content_id") + " AND " + scan
			} else if store.ShortGramNeedle(q.Needle) {
				// 1–2 CJK characters: the gram lookup for the contents
				// that have grams, the scan for those indexed before.
				toks := store.GramTokens(q.Field, q.Needle)
				for j, tok := range toks {
					toks[j] = ftsString(tok)
				}
				pattern = strings.Join(toks, " OR ")
				query = `SELECT m.uid FROM messages m WHERE m.mailbox_id = ?1
						AND m.content_id IN (SELECT rowid FROM content_grams WHERE content_grams MATCH ?3)
					UNION ALL
					SELECT m.uid FROM messages m JOIN content_indexed ci ON ci.content_id = m.content_id
						JOIN content_text t ON t.rowid = m.content_id
					WHERE m.mailbox_id = ?1 AND NOT ci.grams AND ` + scan
			} else if n := utf8.RuneCountInString(q.Needle); n < 3 {
				// Too short for a trigram: scan the stored text.
				query = "SELECT m.uid FROM messages m JOIN content_text t ON t.rowid = m.content_id WHERE m.mailbox_id = ?1 AND ?3 = '' AND " + scan
			} else if n <= maxExactPhrase {
				// The needle as a phrase of its trigrams, in the columns
				// searched: the positions (detail=full) make the answer
				// exact, so no row's text is read. TEXT of a word in 42%
				// of 100,000 messages: 310 ms by the lookup below, 140 by
				// this.
				pattern = phraseMatch(cols, q.Needle)
				query = "SELECT m.uid FROM " + ftsJoin + " WHERE content_text MATCH ?3 AND m.mailbox_id = ?1"
			} else {
				// A longer needle: a phrase of many trigrams costs more
				// than it saves when it matches often (30 characters
				// found in 37% of 100,000 messages: 530 ms as a phrase,
				// 450 by this). FTS5's trigram index finds the rows
				// holding the trigrams that tile the needle (of its first
				// maxPhrase characters: a 60 KB needle must not become a
				// query of 20,000 terms); their stored text decides, as
				// bytes. One lookup for both of TEXT's columns, and no
				// GLOB, whose check SQLite makes per column and candidate
				// (TEXT of a word in 40% of 20,000 messages: 99 ms by two
				// GLOBs, 55 by this).
				head := q.Needle
				if n > maxPhrase {
					head = string([]rune(head)[:maxPhrase])
				}
				pattern = trigramMatch(head)
				bare := make([]string, len(cols))
				for j, c := range cols {
					bare[j] = "instr(CAST(" + c + " AS BLOB), CAST(?2 AS BLOB)) > 0"
				}
				query = "SELECT m.uid FROM " + ftsJoin + " WHERE content_text MATCH ?3 AND (" + strings.Join(bare, " OR ") + ") AND m.mailbox_id = ?1"
			}
			// Text not indexed yet (textpending.go) is scanned: it is
			// folded as the index's is, so the answer is the same. The
			// pending rows are few (indexBacklog), the mailbox's messages
			// may be many: the join starts from the pending rows, and the
			// CASE keeps SQLite from scanning the text of other
			// mailboxes' pending rows before it checks the mailbox.
			if within != nil {
				query += " UNION ALL SELECT m.uid FROM " + from("JOIN content_text_pending t ON t.content_id = m.content_id") + " AND " + scan
			} else {
				query += ` UNION ALL SELECT m.uid FROM content_text_pending t CROSS JOIN messages m ON m.content_id = t.content_id
				WHERE m.mailbox_id = ?1 AND CASE WHEN m.mailbox_id = ?1 THEN ` + scan + ` ELSE 0 END`
			}
			args := []any{mailboxID, q.Needle, pattern}
			if within != nil {
				args = append(args, list)
			}
			hits, err := queryUIDs(conn, query, args...)
			if err != nil {
				return err
			}
			res.Hits[i] = hits
		}
		// What the index cannot answer: the contents content_unindexed
		// lists (its triggers are the one definition of "not fully
		// indexed in the current format"), few, rather than a look at
		// every message's content (at 100,000 messages that was three
		// quarters of a rare word's search). Starting from the list for
		// the whole mailbox, from the messages within otherwise.
		args := []any{mailboxID}
		unindexed := `SELECT m.uid, t.full_body FROM content_unindexed u CROSS JOIN messages m ON m.content_id = u.content_id
			LEFT JOIN content_indexed t ON t.content_id = u.content_id WHERE m.mailbox_id = ?1`
		if within != nil {
			args = append(args, nil, nil, list) // ?4; SQLite binds ?2 and ?3 unused
			unindexed = `SELECT m.uid, t.full_body FROM ` + from(`JOIN content_unindexed u ON u.content_id = m.content_id
				LEFT JOIN content_indexed t ON t.content_id = m.content_id`)
		}
		if err := execConn(conn, unindexed, func(st *sqlite.Stmt) error {
			switch uid := uint32(st.ColumnInt64(0)); {
			case st.ColumnType(1) == sqlite.TypeNull:
				res.Unindexed = append(res.Unindexed, uid)
			case st.ColumnInt64(1) == 0:
				res.BodyUnindexed = append(res.BodyUnindexed, uid)
			default:
				res.Stale = append(res.Stale, uid)
			}
			return nil
		}, args...); err != nil {
			return err
		}
		if !store.HeaderQuery(queries) {
			return nil
		}
		args = []any{mailboxID}
		if within != nil {
			args = append(args, nil, nil, list) // ?4
		}
		// The index messages_prefixed (migration 16) holds just these;
		// SQLite, knowing nothing of how few they are, would rather scan
		// the mailbox by its primary key.
		prefixed := "SELECT m.uid, m.prefix FROM messages m INDEXED BY messages_prefixed WHERE m.mailbox_id = ?1 AND m.prefix IS NOT NULL"
		if within != nil {
			prefixed = "SELECT m.uid, m.prefix FROM " + from("") + " AND m.prefix IS NOT NULL"
		}
		return execConn(conn, prefixed, func(st *sqlite.Stmt) error {
			if res.Prefixed == nil {
				res.Prefixed = map[uint32][]byte{}
			}
			res.Prefixed[uint32(st.ColumnInt64(0))] = columnBytes(st, 1)
			return nil
		}, args...)
	})
	if err != nil {
		return store.TextResult{}, fmt.Errorf("store: search text: %w", err)
	}
	slices.Sort(res.Unindexed)
	slices.Sort(res.BodyUnindexed)
	slices.Sort(res.Stale)
	return res, nil
}

// queryUIDs runs a query of UIDs and returns them ascending.
func queryUIDs(conn *sqlite.Conn, query string, args ...any) ([]uint32, error) {
	var uids []uint32
	if err := execConn(conn, query, func(st *sqlite.Stmt) error {
		uids = append(uids, uint32(st.ColumnInt64(0)))
		return nil
	}, args...); err != nil {
		return nil, err
	}
	slices.Sort(uids)
	return uids, nil
}

// uidList is a JSON array of UIDs, for json_each.
func uidList(uids []uint32) string {
	b := make([]byte, 0, 8*len(uids)+2)
	b = append(b, '[')
	for i, u := range uids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(u), 10)
	}
	return string(append(b, ']'))
}

// UnindexedContents implements store.TextIndexer.
func (s *Store) UnindexedContents(ctx context.Context, accountID, after int64, limit int) ([]store.UnindexedContent, error) {
	var out []store.UnindexedContent
	// Messages, not contents, are scanned: a content is found through any
	// message of the account holding it (queued bodies are in none), and
	// copies of one content are skipped.
	q := `SELECT m.content_id, m.mailbox_id, m.uid, coalesce(length(m.prefix), 0)
		FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
		WHERE m.content_id > ?2 AND (?1 = 0 OR b.account_id = ?1)
			AND NOT EXISTS (SELECT 1 FROM content_indexed t WHERE t.content_id = m.content_id AND t.text_format >= ?4 AND t.grams)
		ORDER BY m.content_id LIMIT ?3`
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execConn(conn, q, func(st *sqlite.Stmt) error {
			cid := st.ColumnInt64(0)
			if n := len(out); n > 0 && out[n-1].ContentID == cid {
				return nil
			}
			out = append(out, store.UnindexedContent{ContentID: cid, MailboxID: st.ColumnInt64(1), UID: uint32(st.ColumnInt64(2)), PrefixLen: st.ColumnInt64(3)})
			return nil
		}, accountID, after, limit, store.TextFormat)
	})
	if err != nil {
		return nil, fmt.Errorf("store: unindexed contents: %w", err)
	}
	return out, nil
}

// IndexText implements store.TextIndexer.
func (s *Store) IndexText(ctx context.Context, contentID int64, doc *store.TextDoc) error {
	grams := gramText(doc)
	err := s.queueWrite(ctx, &writeReq{lazy: true, fn: func(tx *txn) error {
		exists := false
		if err := tx.query("SELECT 1 FROM contents WHERE id = ?", func(*sqlite.Stmt) error { exists = true; return nil }, contentID); err != nil || !exists {
			return err
		}
		return tx.insertText(contentID, doc, grams)
	}})
	if err != nil {
		return fmt.Errorf("store: index text: %w", storageFull(err))
	}
	return nil
}

// DropTextIndex implements store.TextIndexer.
func (s *Store) DropTextIndex(ctx context.Context, accountID int64) error {
	err := s.write(ctx, func(tx *txn) error {
		if accountID == 0 {
			if err := tx.exec("DELETE FROM content_text"); err != nil {
				return err
			}
			if err := tx.exec("DELETE FROM content_grams"); err != nil {
				return err
			}
			if err := tx.exec("DELETE FROM content_text_pending"); err != nil {
				return err
			}
			if err := tx.exec("DELETE FROM content_text_dead"); err != nil {
				return err
			}
			if err := tx.exec("DELETE FROM content_fields"); err != nil {
				return err
			}
			return tx.exec("DELETE FROM content_indexed")
		}
		for _, table := range []string{"content_text WHERE rowid", "content_grams WHERE rowid", "content_text_pending WHERE content_id", "content_fields WHERE content_id", "content_indexed WHERE content_id"} {
			if err := tx.exec(`DELETE FROM `+table+` IN (SELECT m.content_id FROM messages m
				JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = ?)`, accountID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: drop text index: %w", err)
	}
	return nil
}
