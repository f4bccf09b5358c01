package inflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInflate compares this Reader with compress/flate's on 4 MiB of
// mail-like text compressed at BestSpeed (what the IMAP server writes) and
// at the default level: go test -bench Inflate ./internal/inflate/
func BenchmarkInflate(b *testing.B) {
	data := mailText(4<<20, 42)
	for _, level := range []int{flate.BestSpeed, flate.DefaultCompression} {
		z := deflate(b, data, level, nil)
		var r Reader
		readers := []struct {
			name string
			new  func(io.Reader) io.Reader
		}{
			{"inflate", func(src io.Reader) io.Reader { r.Reset(src); return &r }},
			{"compress-flate", func(src io.Reader) io.Reader { return flate.NewReader(src) }},
		}
		for _, rd := range readers {
			b.Run(fmt.Sprintf("level%d/%s", level, rd.name), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				buf := make([]byte, 32<<10)
				cpu0 := cpuTime()
				for b.Loop() {
					n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rd.new(bytes.NewReader(z))}, buf)
					if err != nil || n != int64(len(data)) {
						b.Fatal(n, err)
					}
				}
				// MB/s of CPU time, steadier than the wall clock on a
				// loaded machine.
				b.ReportMetric(float64(len(data))*float64(b.N)/(cpuTime()-cpu0).Seconds()/1e6, "cpu-MB/s")
			})
		}
	}
}
