package sieve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Bad input: every case ends in bounded time with a clear error or a
// result, never a hang or a crash.

func TestHugeScriptRefused(t *testing.T) {
	big := "# " + strings.Repeat("x", DefaultMaxScriptSize) + "\nkeep;"
	err := Check(big)
	if err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("1 MiB+ script: %v", err)
	}
}

func TestTenThousandRules(t *testing.T) {
	var b strings.Builder
	b.WriteString("require [\"fileinto\", \"imap4flags\"];\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "if header :contains \"subject\" \"token%d\" { fileinto \"F%d\"; stop; }\n", i, i)
	}
	b.WriteString("if header :contains \"subject\" \"report\" { addflag \"\\\\Flagged\"; }\n")
	start := time.Now()
	// A generous time limit: the race detector slows evaluation tenfold,
	// and what is tested here is that 10,000 rules run, not how fast.
	s, err := Compile(b.String(), nil, Limits{MaxTime: time.Minute})
	if err != nil {
		t.Fatalf("compile 10,000 rules: %v", err)
	}
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, &env{}, s)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !res.Keep || len(res.KeepFlags) != 1 {
		t.Fatalf("result %+v", res)
	}
	t.Logf("10,000 rules: compile and run in %v", time.Since(start))
}

func TestStepLimit(t *testing.T) {
	var b strings.Builder
	for range 300 {
		b.WriteString("if header :contains \"subject\" \"nothing\" { keep; }\n")
	}
	s, err := Compile(b.String(), nil, Limits{MaxSteps: 100})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, &env{}, s)
	if !errors.Is(err, ErrLimit) || !res.Keep {
		t.Fatalf("over the step limit: %+v %v", res, err)
	}
}

func TestBacktrackingPatterns(t *testing.T) {
	subject := strings.Repeat("a", 3000)
	msg := strings.Replace(testMsg, "Quarterly report", subject, 1)
	for _, script := range []string{
		`if header :matches "subject" "` + strings.Repeat("*a", 100) + `b" { discard; }`,
		`require "regex"; if header :regex "subject" "(a+)+$b" { discard; }`,
		`require "regex"; if header :regex "subject" "(a|aa)*c" { discard; }`,
	} {
		s, err := Compile(script, nil, Limits{})
		if err != nil {
			t.Fatalf("%q: %v", script, err)
		}
		start := time.Now()
		res, err := Run(context.Background(), Input{Message: parseMsg(t, msg)}, &env{}, s)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%.40q took %v", script, d)
		}
		if res == nil || !res.Keep {
			t.Errorf("%.40q: %+v %v", script, res, err)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	deep := strings.Repeat("if true {", 1000) + strings.Repeat("}", 1000)
	if err := Check(deep); err == nil {
		t.Error("1,000 nested blocks compiled")
	}
	tests := "if " + strings.Repeat("not ", 10000) + "true { keep; }"
	if err := Check(tests); err == nil {
		t.Error("10,000 nested tests compiled")
	}
}

func TestTooManyActions(t *testing.T) {
	var b strings.Builder
	b.WriteString("require \"fileinto\";\n")
	for i := range 200 {
		fmt.Fprintf(&b, "fileinto \"F%d\";\n", i)
	}
	s, err := Compile(b.String(), nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, &env{}, s)
	if !errors.Is(err, ErrLimit) || !res.Keep || len(res.FileInto) != 0 {
		t.Fatalf("200 fileinto: %+v %v", res, err)
	}
	b.Reset()
	for i := range 20 {
		fmt.Fprintf(&b, "redirect \"u%d@example.net\";\n", i)
	}
	s, _ = Compile(b.String(), nil, Limits{})
	if res, err = Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, &env{}, s); err == nil || !res.Keep {
		t.Fatalf("20 redirects: %+v %v", res, err)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`require ["fileinto","reject","include","variables","duplicate","spamtest","relational","comparator-i;ascii-numeric"];
if anyof (header :contains "subject" "x", not exists "to") { fileinto "A"; } elsif spamtest :value "ge" :comparator "i;ascii-numeric" "5" { reject "x"; }`,
		`require "vacation"; vacation :days 3 :subject "s" text:
hello
.
;`,
		`if size :over 10K { discard; } else { keep; }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		s, err := Compile(script, nil, Limits{MaxTime: 100 * time.Millisecond})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		res, _ := Run(context.Background(), Input{Message: parseMsg(t, testMsg), From: "a@example.com"}, &env{}, s)
		if res == nil {
			t.Fatal("nil result")
		}
	})
}

// TestOneMegabyteScript: a script of a million octets (rules up to the
// size limit) compiles and runs within bounds.
func TestOneMegabyteScript(t *testing.T) {
	var b strings.Builder
	b.WriteString("require [\"fileinto\"];\n")
	for i := 0; b.Len() < 1_000_000-200; i++ {
		fmt.Fprintf(&b, "if address :is \"from\" \"sender%d@example.com\" { fileinto \"F%d\"; }\n", i, i)
	}
	if b.Len() > DefaultMaxScriptSize {
		t.Fatalf("built %d octets", b.Len())
	}
	start := time.Now()
	s, err := Compile(b.String(), nil, Limits{MaxTime: time.Minute})
	if err != nil {
		t.Fatalf("compile a 1 MB script: %v", err)
	}
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, &env{}, s)
	if err != nil || !res.Keep {
		t.Fatalf("run: %+v %v", res, err)
	}
	t.Logf("1 MB script (%d octets): compiled and run in %v", b.Len(), time.Since(start))
}
