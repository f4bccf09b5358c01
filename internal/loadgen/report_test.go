package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testReport() *Report {
	rec := newRecorder()
	for i := range 100 {
		rec.command("RETR", time.Duration(i+1)*time.Millisecond, nil)
	}
	rec.command("RETR", -1, errors.New("read tcp 127.0.0.1:4711->127.0.0.1:110: connection reset"))
	rec.command("RETR", -1, errors.New("read tcp 127.0.0.1:4712->127.0.0.1:110: connection reset"))
	rec.command("USER", 150*time.Microsecond, errors.New("-ERR no"))
	rec.cycleDone()
	rec.cycleDone()
	rec.addBytes(12345)
	return rec.report("pop3", 3, 2*time.Second)
}

func TestReport(t *testing.T) {
	r := testReport()
	retr := r.Commands["RETR"]
	if retr.Count != 102 || retr.Errors != 2 || retr.Max != 100*time.Millisecond {
		t.Errorf("RETR %+v", retr)
	}
	for _, q := range []struct{ got, want time.Duration }{{retr.P50, 50 * time.Millisecond}, {retr.P99, 99 * time.Millisecond}} {
		if d := q.got - q.want; d < -q.want/128 || d > q.want/128 {
			t.Errorf("RETR percentile %v, want %v", q.got, q.want)
		}
	}
	// The two resets differ only in numbers: one sample.
	if r.Errors != 3 || len(r.ErrorSamples) != 2 || r.CyclesPerSec != 1 || r.CommandsPerSec != 51.5 || r.Bytes != 12345 {
		t.Errorf("report %+v", r)
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := testReport()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, &back) {
		t.Errorf("round trip:\n%+v\n%+v", r, &back)
	}
	if !strings.Contains(buf.String(), `"p99_ns"`) {
		t.Errorf("JSON:\n%s", &buf)
	}
}

func TestReportText(t *testing.T) {
	var buf bytes.Buffer
	if err := testReport().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"pop3: 3 clients, 2.00s, 2 cycles (1.0/s), 3 errors, 51.5 commands/s", "RETR    102       2  50.1ms  99.1ms  100ms", "USER", "error samples:\n  RETR: read tcp"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Index(out, "RETR") > strings.Index(out, "USER") {
		t.Errorf("commands not sorted:\n%s", out)
	}
}
