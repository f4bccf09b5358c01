package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

// BenchmarkContacts measures what collecting contacts adds to a delivery
// (record: one new address heard from, into a full list of MaxContacts,
// so every call also counts and prunes; record-known: one address already
// there, the usual case) and what a compose form's keystroke
// costs (suggest: a one-letter prefix that every contact matches, and a
// word that one matches, over a full list), on SQLite and PostgreSQL.
func BenchmarkContacts(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchContacts(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		benchContacts(b, openWith(b, Options{DSN: pgtest.NewDatabase(b), MaxConns: 10}))
	})
}

func benchContacts(b *testing.B, st store.Store) {
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		b.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "demo@example.test", testCred)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	var batch []store.ContactSeen
	for i := range store.MaxContacts {
		batch = append(batch, store.ContactSeen{Email: fmt.Sprintf("person%04d@example.org", i), Name: fmt.Sprintf("Person %d Example", i), Sent: i%3 == 0})
		if len(batch) == store.MaxContactsRecorded {
			if err := st.RecordContacts(ctx, acct.ID, batch, t0); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if a, ok := st.(*Store); ok {
		// As autovacuum would have by now: the planner knows the tables.
		if _, err := a.pool.Exec(ctx, "ANALYZE contacts; ANALYZE contact_terms"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("record", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			seen := []store.ContactSeen{{Email: fmt.Sprintf("new%d@example.net", i), Name: "New Person"}}
			if err := st.RecordContacts(ctx, acct.ID, seen, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("record-known", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			seen := []store.ContactSeen{{Email: fmt.Sprintf("person%04d@example.org", i%store.MaxContacts)}}
			if err := st.RecordContacts(ctx, acct.ID, seen, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, q := range []string{"p", "1999"} {
		b.Run("suggest-"+q, func(b *testing.B) {
			for b.Loop() {
				got, err := st.SuggestContacts(ctx, acct.ID, q, 10)
				if err != nil || len(got) == 0 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
