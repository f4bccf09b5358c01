package thread

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"mailroom/internal/mime"
)

// benchMessages is a deterministic mailbox of n messages in conversations
// of one to twelve, with full References, reply prefixes and several
// languages, as the IMAP benchmark's.
func benchMessages(n int) []*Message {
	rng := rand.New(rand.NewPCG(15, uint64(n)))
	subjects := []string{"quarterly budget", "déjeuner vendredi", "会议的安排", "build failed on main", "Einladung zum Sommerfest", "invoice 4471", "[list] weekly digest"}
	names := []string{"Alice Martin", "李明", "Bob", "Renée Dupré", "", "Дмитрий", "Zoë Ng"}
	msgs := make([]*Message, n)
	convStart, convLen := 0, 1
	for i := range msgs {
		if i-convStart >= convLen {
			convStart, convLen = i, 1+rng.IntN(12)
		}
		m := &Message{Num: uint32(i + 1), Arrival: 1.6e9 + int64(i)*600, Size: int64(500 + rng.IntN(5000)), Fields: &Fields{}}
		m.Sent = m.Arrival + int64(rng.IntN(300))
		m.MessageID = fmt.Sprintf("<m%d@bench.test>", i)
		m.Subject = subjects[convStart%len(subjects)]
		if i > convStart {
			m.Subject = []string{"Re: ", "RE: ", "Fwd: ", "Re: [list] "}[rng.IntN(4)] + m.Subject
			m.InReplyTo = fmt.Sprintf("<m%d@bench.test>", i-1)
			var refs []string
			for j := convStart; j < i; j++ {
				refs = append(refs, fmt.Sprintf("<m%d@bench.test>", j))
			}
			m.References = strings.Join(refs, " ")
		}
		name := names[rng.IntN(len(names))]
		m.From = mime.Address{Name: name, DecodedName: name, Mailbox: fmt.Sprintf("user%d", rng.IntN(500)), Host: "example.test"}
		m.To = mime.Address{Mailbox: fmt.Sprintf("rcpt%d", rng.IntN(50)), Host: "example.test"}
		m.Prepare() // as the mailbox service's cache keeps them
		msgs[i] = m
	}
	return msgs
}

func BenchmarkSort(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		msgs := benchMessages(n)
		for _, c := range []struct {
			name string
			crit []Criterion
		}{
			{"ReverseDate", []Criterion{{Key: Date, Reverse: true}}},
			{"Subject", []Criterion{{Key: Subject}}},
			{"DisplayFrom", []Criterion{{Key: DisplayFrom}}},
		} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					Sort(msgs, c.crit)
				}
			})
		}
	}
}

func BenchmarkThread(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		msgs := benchMessages(n)
		b.Run(fmt.Sprintf("References/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				References(msgs)
			}
		})
		b.Run(fmt.Sprintf("OrderedSubject/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				OrderedSubject(msgs)
			}
		})
	}
}
