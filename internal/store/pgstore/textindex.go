package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// The full-text index is the table content_text (migration 6): one row per
// content, deleted with it (ON DELETE CASCADE), folded text per field,
// with pg_trgm GIN indexes (hdr, body, and one over the five small
// columns together) so that LIKE '%needle%' finds candidates
// through trigrams and PostgreSQL's recheck makes the answer exact. LIKE
// is case-sensitive: the text and the needles are already folded by
// package search, which is the one definition of a match. A needle of
// fewer than three characters has no trigram; PostgreSQL then scans the
// stored text, still without reading a message.
//
// Except for a needle of one or two CJK characters: the column grams
// (migration 8, see store.ShortGrams) holds each content's field-marked
// CJK characters and character pairs, space-separated, with a GIN index
// on them as an array, and such a needle is one array lookup
// (string_to_array(grams, ' ') && the needle's tokens), exact. (A text
// column takes as much room as a text[] would, measured on Japanese mail,
// and lets "no CJK text" be '' rather than an empty array.) grams is
// NULL for contents indexed before migration 8: those are scanned as
// before until a reindex; '' for a content without CJK text.

var ftsColumn = [...]string{
	store.TextFrom:    "h_from",
	store.TextTo:      "h_to",
	store.TextCc:      "h_cc",
	store.TextBcc:     "h_bcc",
	store.TextSubject: "h_subject",
	store.TextHeader:  "hdr",
	store.TextBody:    "body",
}

func ftsColumns(f store.TextField) []string {
	if f == store.TextAll {
		return []string{"hdr", "body"}
	}
	if int(f) < len(ftsColumn) {
		return []string{ftsColumn[f]}
	}
	return nil
}

// maxPhrase bounds the characters of a needle looked up in the trigram
// indexes; see SearchText.
const maxPhrase = 64

// likePattern is '%needle%' with LIKE's metacharacters escaped.
func likePattern(needle string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(needle) + "%"
}

// SetText implements store.TextStager. The grams are made here, before
// the delivery's transaction.
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

// gramText is a content's grams column: ”, not NULL, when it has none
// (NULL is "indexed before the grams").
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

// insertText writes (or replaces) a content's index row, with its grams
// (gramText).
func (tx *txn) insertText(contentID int64, d *store.TextDoc, grams string) error {
	_, err := tx.exec(`INSERT INTO content_text (content_id, hdr, body, h_from, h_to, h_cc, h_bcc, h_subject, full_body, text_format, grams)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (content_id) DO UPDATE SET hdr = $2, body = $3, h_from = $4, h_to = $5, h_cc = $6, h_bcc = $7, h_subject = $8, full_body = $9, text_format = $10, grams = $11`,
		contentID, d.Header, d.Body, d.From, d.To, d.Cc, d.Bcc, d.Subject, d.BodyComplete, store.TextFormat, grams)
	return err
}

// SearchText implements store.TextIndexer.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, queries []store.TextQuery, within []uint32) (store.TextResult, error) {
	res := store.TextResult{Hits: make([][]uint32, len(queries))}
	// The messages of the mailbox, or only those within (restrict, on the
	// parameter numbered n).
	var uids []int64
	restrict := func(n int) string { return "" }
	if within != nil {
		uids = make([]int64, len(within))
		for i, u := range within {
			uids[i] = int64(u)
		}
		restrict = func(n int) string { return fmt.Sprintf(" AND m.uid = ANY($%d::bigint[])", n) }
	}
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		// The planner prices a sequential scan of content_text by its
		// heap, where the long texts are only TOAST pointers, and prefers
		// it to the trigram indexes even for a rare word: checking every
		// text then costs hundreds of times more (measured: 260 ms against
		// 9 ms over 20,000 texts). Every query here has an index path.
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			return err
		}
		for i, q := range queries {
			cols := ftsColumns(q.Field)
			if cols == nil || q.Needle == "" || strings.ContainsAny(q.Needle, "\n\x00") {
				return fmt.Errorf("%w: text query %d", store.ErrInvalid, i)
			}
			// A long needle is looked up by its start (a 1 MB search
			// string must not become a million-trigram query), and
			// strpos on the stored text decides.
			head := q.Needle
			if r := []rune(head); len(r) > maxPhrase {
				head = string(r[:maxPhrase])
			}
			conds := make([]string, len(cols))
			for j, c := range cols {
				conds[j] = "(t." + c + " LIKE $2 AND strpos(t." + c + ", $3) > 0)"
				if c != "hdr" && c != "body" {
					// The small columns share one trigram index, on
					// their concatenation (see the schema).
					conds[j] = "((t.h_from || t.h_to || t.h_cc || t.h_bcc || t.h_subject) LIKE $2 AND " + conds[j] + ")"
				}
			}
			// With a trigram to look up, the text conditions go in a
			// subquery of their own, so that the planner takes the
			// trigram indexes rather than checking the text of every
			// message of the mailbox. Without one (1–2 characters) no
			// index helps: check the texts of this mailbox only.
			// MATERIALIZED: a subquery the planner may turn into a join
			// that checks each message's text instead (measured: 20 times
			// slower over 10,000 messages).
			query := `WITH hits AS MATERIALIZED (SELECT t.content_id FROM content_text t WHERE ` + strings.Join(conds, " OR ") + `)
				SELECT m.uid FROM messages m WHERE m.mailbox_id = $1 AND m.content_id IN (SELECT content_id FROM hits)`
			args := []any{mailboxID, likePattern(head), q.Needle}
			if within != nil {
				// Few messages: their stored text decides, no lookup.
				query = `SELECT m.uid FROM messages m JOIN content_text t ON t.content_id = m.content_id
					WHERE m.mailbox_id = $1` + restrict(4) + ` AND (` + strings.Join(conds, " OR ") + `)`
				args = append(args, uids)
			} else if store.ShortGramNeedle(q.Needle) {
				// 1–2 CJK characters: the gram lookup for the contents
				// that have grams, the scan for those indexed before.
				query = `WITH hits AS MATERIALIZED (SELECT t.content_id FROM content_text t WHERE string_to_array(t.grams, ' ') && $4::text[])
					SELECT m.uid FROM messages m WHERE m.mailbox_id = $1 AND m.content_id IN (SELECT content_id FROM hits)
					UNION ALL
					SELECT m.uid FROM messages m JOIN content_text t ON t.content_id = m.content_id
					WHERE m.mailbox_id = $1 AND t.grams IS NULL AND (` + strings.Join(conds, " OR ") + `)`
				args = append(args, store.GramTokens(q.Field, q.Needle))
			} else if utf8.RuneCountInString(q.Needle) < 3 {
				query = `SELECT m.uid FROM messages m JOIN content_text t ON t.content_id = m.content_id
					WHERE m.mailbox_id = $1 AND (` + strings.Join(conds, " OR ") + `)`
			}
			rows, _ := tx.Query(ctx, query, args...)
			hits, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			res.Hits[i] = make([]uint32, len(hits))
			for j, u := range hits {
				res.Hits[i][j] = uint32(u)
			}
			slices.Sort(res.Hits[i])
		}
		args := []any{mailboxID, store.TextFormat}
		if within != nil {
			args = append(args, uids)
		}
		rows, _ := tx.Query(ctx, `SELECT m.uid, t.full_body FROM messages m LEFT JOIN content_text t ON t.content_id = m.content_id
			WHERE m.mailbox_id = $1`+restrict(3)+` AND (t.content_id IS NULL OR NOT t.full_body OR t.text_format < $2)`, args...)
		var uid int64
		var full *bool
		if _, err := pgx.ForEachRow(rows, []any{&uid, &full}, func() error {
			switch {
			case full == nil:
				res.Unindexed = append(res.Unindexed, uint32(uid))
			case !*full:
				res.BodyUnindexed = append(res.BodyUnindexed, uint32(uid))
			default:
				res.Stale = append(res.Stale, uint32(uid))
			}
			return nil
		}); err != nil {
			return err
		}
		if !store.HeaderQuery(queries) {
			return nil
		}
		args = []any{mailboxID}
		if within != nil {
			args = append(args, uids)
		}
		rows, _ = tx.Query(ctx, "SELECT m.uid, m.prefix FROM messages m WHERE m.mailbox_id = $1"+restrict(2)+" AND m.prefix IS NOT NULL", args...)
		var prefix []byte
		_, err := pgx.ForEachRow(rows, []any{&uid, &prefix}, func() error {
			if res.Prefixed == nil {
				res.Prefixed = map[uint32][]byte{}
			}
			res.Prefixed[uint32(uid)] = slices.Clone(prefix)
			return nil
		})
		return err
	})
	if err != nil {
		return store.TextResult{}, fmt.Errorf("store: search text: %w", err)
	}
	slices.Sort(res.Unindexed)
	slices.Sort(res.BodyUnindexed)
	slices.Sort(res.Stale)
	return res, nil
}

// UnindexedContents implements store.TextIndexer.
func (s *Store) UnindexedContents(ctx context.Context, accountID, after int64, limit int) ([]store.UnindexedContent, error) {
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT ON (m.content_id) m.content_id, m.mailbox_id, m.uid, coalesce(length(m.prefix), 0)
		FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
		WHERE m.content_id > $2 AND ($1 = 0 OR b.account_id = $1)
			AND NOT EXISTS (SELECT 1 FROM content_text t WHERE t.content_id = m.content_id AND t.text_format >= $4 AND t.grams IS NOT NULL)
		ORDER BY m.content_id, m.mailbox_id, m.uid LIMIT $3`, accountID, after, limit, store.TextFormat)
	var out []store.UnindexedContent
	var u store.UnindexedContent
	var uid int64
	if _, err := pgx.ForEachRow(rows, []any{&u.ContentID, &u.MailboxID, &uid, &u.PrefixLen}, func() error {
		u.UID = uint32(uid)
		out = append(out, u)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: unindexed contents: %w", mapError(err))
	}
	return out, nil
}

// IndexText implements store.TextIndexer.
func (s *Store) IndexText(ctx context.Context, contentID int64, doc *store.TextDoc) error {
	grams := gramText(doc)
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		ok, err := tx.exists("SELECT 1 FROM contents WHERE id = $1 FOR KEY SHARE", contentID)
		if err != nil || !ok {
			return err
		}
		return tx.insertText(contentID, doc, grams)
	})
	if err != nil {
		return fmt.Errorf("store: index text: %w", err)
	}
	return nil
}

// DropTextIndex implements store.TextIndexer.
func (s *Store) DropTextIndex(ctx context.Context, accountID int64) error {
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		if accountID == 0 {
			_, err := tx.exec("DELETE FROM content_text")
			return err
		}
		_, err := tx.exec(`DELETE FROM content_text WHERE content_id IN (SELECT m.content_id FROM messages m
			JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = $1)`, accountID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: drop text index: %w", err)
	}
	return nil
}

// FlushText implements store.TextIndexer: PostgreSQL's index takes the
// text in the delivery's transaction, so nothing waits.
func (s *Store) FlushText(ctx context.Context) error { return nil }
