package dsn

import (
	"mime"
	"net/mail"
	"strings"
)

// ShouldNotify reports whether a notification with action may be sent
// about one recipient of a message whose reverse-path was envelopeFrom,
// and for which the sender gave the NOTIFY values notify (RFC 3461 §4.1),
// nil if none.
//
// Never for the null reverse-path, "" or "<>": RFC 5321 §4.5.5 and §6.1
// forbid notifications about notifications, which could loop. Otherwise
// NOTIFY decides: NEVER asks for none; FAILURE, DELAY and SUCCESS ask for
// "failed", "delayed" and the successful actions ("delivered", "relayed",
// "expanded"); when NOTIFY was not given, a failure is reported (RFC 3461
// §5.2.6) and so is a delay, which RFC 3461 §4.1 leaves to the MTA, but
// a success is not. The values may be given in any case, and several in
// one string separated by commas, as on the RCPT command.
func ShouldNotify(envelopeFrom string, notify []string, action Action) bool {
	if from := strings.TrimSpace(envelopeFrom); from == "" || from == "<>" {
		return false
	}
	want := ""
	switch strings.ToLower(strings.TrimSpace(string(action))) {
	case string(ActionFailed):
		want = "FAILURE"
	case string(ActionDelayed):
		want = "DELAY"
	case string(ActionDelivered), string(ActionRelayed), string(ActionExpanded):
		want = "SUCCESS"
	default:
		return false
	}
	given := false
	asked := false
	for _, n := range notify {
		for _, v := range strings.Split(n, ",") {
			v = strings.ToUpper(strings.TrimSpace(v))
			if v == "" {
				continue
			}
			given = true
			switch v {
			case "NEVER":
				return false
			case want:
				asked = true
			}
		}
	}
	if !given {
		return want != "SUCCESS"
	}
	return asked
}

// IsAutomatic reports whether the header of a message marks it as sent by
// a program rather than a person: an Auto-Submitted field with a value
// other than "no" (RFC 3834 §5), a multipart/report body, the form of
// delivery and disposition notifications (RFC 6522), or a Return-Path of
// <>, which the final delivery records for a message sent with the null
// reverse-path. An automatic responder, such as a vacation reply, must
// not answer such a message (RFC 3834 §2).
//
// It is no reason to withhold a delivery status notification: whether one
// is sent is decided by the envelope alone (ShouldNotify), as a message
// that merely looks like a report is still owed its bounce.
func IsAutomatic(h mail.Header) bool {
	if v := h.Get("Auto-Submitted"); v != "" {
		// The value is a keyword, possibly with parameters and comments:
		// "auto-replied; owner-email=..." or "no (a person wrote it)".
		keyword, _, _ := strings.Cut(v, ";")
		keyword, _, _ = strings.Cut(keyword, "(")
		if !strings.EqualFold(strings.TrimSpace(keyword), "no") {
			return true
		}
	}
	if v := h.Get("Content-Type"); v != "" {
		mt, _, err := mime.ParseMediaType(v)
		if err != nil {
			// Parameters that do not parse do not hide the type.
			mt, _, _ = strings.Cut(v, ";")
		}
		if strings.EqualFold(strings.TrimSpace(mt), "multipart/report") {
			return true
		}
	}
	for _, rp := range h["Return-Path"] {
		if strings.TrimSpace(rp) == "<>" {
			return true
		}
	}
	return false
}
