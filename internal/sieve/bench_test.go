package sieve

import (
	"context"
	"os"
	"testing"
)

// BenchmarkRun50Rules is the CPU cost of evaluating bench/sieve-50.sieve
// (the script of bench/sieve-compare.sh) on one message: what a delivery
// pays per recipient with that script active, compiled once.
func BenchmarkRun50Rules(b *testing.B) {
	src, err := os.ReadFile("../../bench/sieve-50.sieve")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Compile(string(src), nil, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	msg := parseMsg(b, testMsg)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), Input{Message: msg, From: "a@example.com", To: "me@example.org", SpamPercent: -1}, &env{}, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile50Rules is what a delivery pays once per account after
// the script changed.
func BenchmarkCompile50Rules(b *testing.B) {
	src, err := os.ReadFile("../../bench/sieve-50.sieve")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(string(src), nil, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
