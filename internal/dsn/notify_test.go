package dsn

import (
	"fmt"
	"net/mail"
	"strings"
	"testing"
)

func TestShouldNotify(t *testing.T) {
	const from = "alice@example.org"
	for _, tc := range []struct {
		from   string
		notify []string
		action Action
		want   bool
	}{
		// RFC 5321 §6.1: never about a message with the null reverse-path.
		{"", nil, ActionFailed, false},
		{"<>", nil, ActionFailed, false},
		{" ", []string{"FAILURE"}, ActionFailed, false},
		{"", []string{"SUCCESS"}, ActionDelivered, false},

		// No NOTIFY: failures (RFC 3461 §5.2.6), and delays at the MTA's
		// discretion, which is yes; no successes.
		{from, nil, ActionFailed, true},
		{from, []string{}, ActionFailed, true},
		{from, nil, ActionDelayed, true},
		{from, nil, ActionDelivered, false},
		{from, nil, ActionRelayed, false},
		{from, nil, ActionExpanded, false},

		// NOTIFY=NEVER: nothing.
		{from, []string{"NEVER"}, ActionFailed, false},
		{from, []string{"NEVER"}, ActionDelayed, false},
		{from, []string{"never"}, ActionDelivered, false},

		// Only what was asked for.
		{from, []string{"FAILURE"}, ActionFailed, true},
		{from, []string{"FAILURE"}, ActionDelayed, false},
		{from, []string{"FAILURE"}, ActionDelivered, false},
		{from, []string{"DELAY"}, ActionFailed, false},
		{from, []string{"DELAY"}, ActionDelayed, true},
		{from, []string{"SUCCESS"}, ActionFailed, false},
		{from, []string{"SUCCESS"}, ActionDelayed, false},
		{from, []string{"SUCCESS"}, ActionDelivered, true},
		{from, []string{"SUCCESS"}, ActionRelayed, true},
		{from, []string{"SUCCESS"}, ActionExpanded, true},
		{from, []string{"SUCCESS", "FAILURE"}, ActionFailed, true},
		{from, []string{"SUCCESS", "FAILURE"}, ActionDelayed, false},
		{from, []string{"FAILURE", "DELAY"}, ActionDelayed, true},

		// As on the RCPT command: any case, comma-separated.
		{from, []string{"failure,delay"}, ActionDelayed, true},
		{from, []string{" Success , Failure "}, ActionFailed, true},
		{from, []string{"Success,Failure"}, ActionDelayed, false},

		// Unknown values ask for nothing; unknown actions get nothing.
		{from, []string{"BOGUS"}, ActionFailed, false},
		{from, nil, Action("bounced"), false},
		{from, nil, Action("FAILED"), true},
	} {
		if got := ShouldNotify(tc.from, tc.notify, tc.action); got != tc.want {
			t.Errorf("ShouldNotify(%q, %q, %q) = %v, want %v", tc.from, tc.notify, tc.action, got, tc.want)
		}
	}
}

func TestIsAutomatic(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"From: bob@example.net\r\nSubject: hi\r\n", false},
		{"Auto-Submitted: no\r\n", false},
		{"Auto-Submitted: No (written by Bob himself)\r\n", false},
		{"Auto-Submitted: auto-replied\r\n", true},
		{"Auto-Submitted: auto-generated\r\n", true},
		{"auto-submitted: auto-replied; owner-email=\"x@example.org\"\r\n", true},
		{"Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=x\r\n", true},
		{"Content-Type: Multipart/Report; report-type=\"disposition-notification\"; boundary=\"x\r\n", true},
		{"Content-Type: multipart/mixed; boundary=x\r\n", false},
		{"Return-Path: <>\r\n", true},
		{"Return-Path: <bob@example.net>\r\n", false},
	} {
		m, err := mail.ReadMessage(strings.NewReader(tc.header + "\r\nbody\r\n"))
		if err != nil {
			t.Fatalf("%q: %v", tc.header, err)
		}
		if got := IsAutomatic(m.Header); got != tc.want {
			t.Errorf("IsAutomatic(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func ExampleShouldNotify() {
	// A recipient given with NOTIFY=FAILURE,DELAY, its delivery deferred:
	fmt.Println(ShouldNotify("alice@example.org", []string{"FAILURE", "DELAY"}, ActionDelayed))
	// A recipient given with NOTIFY=NEVER, its delivery failed:
	fmt.Println(ShouldNotify("alice@example.org", []string{"NEVER"}, ActionFailed))
	// A bounce that could not be delivered: never a bounce about a bounce.
	fmt.Println(ShouldNotify("", nil, ActionFailed))
	// Output:
	// true
	// false
	// false
}
