package imap

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// typicalMessage is a message of about size bytes: text drawn at random
// from a vocabulary of a few hundred words in three languages, quoted
// lines, and one message in four with a base64 attachment of random
// bytes (which does not compress) taking half of it.
func typicalMessage(rng *rand.Rand, size int, id string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Bob Example <bob@example.test>\r\nTo: ann@example.test\r\nSubject: Re: %s\r\n"+
		"Message-ID: <%s@example.test>\r\nDate: Sun, 6 Dec 2026 10:%02d:00 +0000\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		vocabulary[rng.IntN(len(vocabulary))], id, rng.IntN(60))
	text := size
	attach := rng.IntN(4) == 0
	if attach {
		text = size / 2
	}
	for b.Len() < text {
		if rng.IntN(5) == 0 {
			b.WriteString("> ")
		}
		for range 4 + rng.IntN(10) {
			b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
			b.WriteByte(' ')
		}
		b.WriteString("\r\n")
	}
	if attach {
		raw := make([]byte, (size-b.Len())*3/4)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		b.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--b--\r\n")
	return b.String()
}

var vocabulary = func() []string {
	words := strings.Fields("the of and to in is you that it he was for on are as with his they at be this have from or " +
		"one had by word but not what all were we when your can said there use an each which she do how their if will up " +
		"other about out many then them these so some her would make like him into time has look two more write go see " +
		"meeting report budget quarterly invoice schedule review draft approved project deadline tomorrow attached please " +
		"regards thanks customer contract delivery shipment order payment account password server mailbox calendar " +
		"der die das und ist nicht mit für auf Bericht Sitzung morgen Rechnung bitte danke Grüße Vertrag Lieferung " +
		"le la les et est pas avec pour sur réunion demain facture merci cordialement contrat livraison équipe " +
		"会議 報告 予算 明日 請求書 よろしく お願いします ありがとう 契約 配送 プロジェクト 確認")
	for i := range 200 {
		words = append(words, fmt.Sprintf("ref-%04d", i*37%9973), fmt.Sprintf("%d.%02d", i*13%997, i%100))
	}
	return words
}()

// BenchmarkCompressFetch: FETCH 1:100 BODY.PEEK[] of 100 typical text
// messages (2 to 40 KB) over TLS, with and without COMPRESS=DEFLATE.
// Reports the bytes the server sent (above TLS) per FETCH, and the
// throughput in message bytes per second, and the CPU time it took:
//
//	go test -run XXX -bench CompressFetch -benchtime 20x ./internal/imap/
func BenchmarkCompressFetch(b *testing.B) {
	r := newRig(b)
	acct := r.Account("ann@example.test")
	total := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		m := typicalMessage(rng, 2<<10+(i*397)%(38<<10), fmt.Sprintf("msg%d", i))
		total += len(m)
		r.Deliver(acct, m)
	}
	for _, compressed := range []bool{false, true} {
		name := "plain"
		if compressed {
			name = "deflate"
		}
		b.Run(name, func(b *testing.B) {
			x := r.login("ann@example.test")
			wire := &countingReader{r: x.Conn}
			if compressed {
				wire = x.compress(b)
			} else {
				x.R = bufio.NewReader(wire)
			}
			x.cmd("s", "SELECT INBOX", "OK")
			start := wire.n.Load()
			b.SetBytes(int64(total))
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				lines := x.cmd("f", "FETCH 1:100 BODY.PEEK[]", "OK")
				if n := strings.Count(strings.Join(lines, "\n"), "Message-ID: <msg"); n != 100 {
					b.Fatalf("%d messages fetched", n)
				}
			}
			b.StopTimer()
			// CPU time of client and server together (one process): on a
			// loaded machine a steadier figure than the wall clock.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(wire.n.Load()-start)/float64(b.N), "wire-bytes/op")
			b.ReportMetric(float64(total), "message-bytes")
		})
	}
}
