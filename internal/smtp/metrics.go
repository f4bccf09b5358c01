package smtp

import (
	"errors"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// CommandNames are the commands the metrics time: the ones that carry mail.
func CommandNames() []string { return []string{"MAIL", "RCPT", "DATA"} }

// The reasons a refusal is counted under (the values internal/metrics
// knows; a reply that fits none is "other").
const (
	reasonUnknownUser = "unknown_user"
	reasonRelay       = "relay"
	reasonQuota       = "quota"
	reasonSize        = "size"
	reasonPolicy      = "policy"
	reasonSieve       = "sieve_reject"
	reasonSyntax      = "syntax"
	reasonTemporary   = "temporary"
	reasonOther       = "other"
)

// observe records a MAIL, RCPT or DATA: its time, and whether the mail
// was accepted (DATA) or refused (any of the three).
func (s *session) observe(cmd string, start time.Time, err error) {
	s.srv.opts.Metrics.Command(cmd, time.Since(start))
	reason := s.reason
	s.reason = ""
	switch {
	case err == nil && cmd == "DATA":
		s.srv.opts.Deliveries.Accepted()
	case err != nil:
		if reason == "" {
			reason = rejectReason(cmd, err)
		}
		s.srv.opts.Deliveries.Rejected(reason)
	}
}

// rejectReason sorts a refusal by its reply (RFC 3463 status codes):
// the one place that knows what each of our replies means, whichever
// check produced it.
func rejectReason(cmd string, err error) string {
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		return reasonOther
	}
	e := se.EnhancedCode
	switch {
	case e[1] == 2 && e[2] == 2:
		return reasonQuota // 4.2.2 or 5.2.2: mailbox full
	case (e[1] == 3 && e[2] == 4) || (e[1] == 2 && e[2] == 3):
		return reasonSize
	case se.Code/100 == 4:
		return reasonTemporary
	case e[1] == 1 && e[2] == 1:
		return reasonUnknownUser
	case e[1] == 7 && cmd == "RCPT":
		return reasonRelay
	case e[1] == 7:
		return reasonPolicy
	case e[1] == 1 || e[1] == 5 || e[1] == 6 || se.Code == 500:
		return reasonSyntax
	}
	return reasonOther
}
