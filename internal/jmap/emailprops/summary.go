package emailprops

import (
	"errors"
	"io"

	"mailroom/internal/mime"
)

// Summary holds the convenience properties of an Email (RFC 8621
// 4.1.2.3 to 4.1.2.6 and 4.1.3): each is the header:… property it stands
// for, over the message's top-level header, taking the last instance of
// the field; nil (null) when the field is absent.
type Summary struct {
	MessageID  []string       `json:"messageId"`  // header:Message-ID:asMessageIds
	InReplyTo  []string       `json:"inReplyTo"`  // header:In-Reply-To:asMessageIds
	References []string       `json:"references"` // header:References:asMessageIds
	Sender     []EmailAddress `json:"sender"`     // header:Sender:asAddresses
	From       []EmailAddress `json:"from"`       // header:From:asAddresses
	To         []EmailAddress `json:"to"`         // header:To:asAddresses
	Cc         []EmailAddress `json:"cc"`         // header:Cc:asAddresses
	Bcc        []EmailAddress `json:"bcc"`        // header:Bcc:asAddresses
	ReplyTo    []EmailAddress `json:"replyTo"`    // header:Reply-To:asAddresses
	Subject    *string        `json:"subject"`    // header:Subject:asText
	SentAt     *string        `json:"sentAt"`     // header:Date:asDate
}

// SummaryOf reads m's top-level header and returns its convenience
// properties. The mime Envelope is not used: it keeps the first instance
// of each field (as IMAP does) and defaults Sender and Reply-To to From,
// where JMAP wants the last instance and no defaults. A header longer
// than DefaultHeaderLimit is read as far as the limit.
func SummaryOf(r io.ReaderAt, m *mime.Message) (Summary, error) {
	var s Summary
	if m == nil || m.Root == nil {
		return s, errors.New("emailprops: message has no structure")
	}
	hs, err := Headers(r, m.Root, 0)
	if err != nil && !errors.Is(err, ErrHeaderTruncated) {
		return s, err
	}
	return SummaryFromHeaders(hs), nil
}

// SummaryFromHeaders is SummaryOf over header fields already read.
func SummaryFromHeaders(hs []Header) Summary {
	ids := func(name string) []string {
		v, _ := HeaderValue(hs, name, FormMessageIds, false).([]string)
		return v
	}
	addrs := func(name string) []EmailAddress {
		v, _ := HeaderValue(hs, name, FormAddresses, false).([]EmailAddress)
		return v
	}
	s := Summary{
		MessageID:  ids("Message-ID"),
		InReplyTo:  ids("In-Reply-To"),
		References: ids("References"),
		Sender:     addrs("Sender"),
		From:       addrs("From"),
		To:         addrs("To"),
		Cc:         addrs("Cc"),
		Bcc:        addrs("Bcc"),
		ReplyTo:    addrs("Reply-To"),
	}
	if v, ok := HeaderValue(hs, "Subject", FormText, false).(string); ok {
		s.Subject = &v
	}
	s.SentAt, _ = HeaderValue(hs, "Date", FormDate, false).(*string)
	return s
}
