package wire

// Interning of the words that recur on every command line, so that reading
// them allocates nothing. Matching is exact (case preserved): a word in an
// unusual case is simply allocated. switch on string(b) does not allocate.

// internWord returns b as a string, without allocating for command names
// and other common atoms in upper or lower case.
func internWord(b []byte) string {
	switch string(b) {
	case "UID":
		return "UID"
	case "FETCH":
		return "FETCH"
	case "STORE":
		return "STORE"
	case "SEARCH":
		return "SEARCH"
	case "SELECT":
		return "SELECT"
	case "EXAMINE":
		return "EXAMINE"
	case "NOOP":
		return "NOOP"
	case "IDLE":
		return "IDLE"
	case "DONE":
		return "DONE"
	case "LIST":
		return "LIST"
	case "LSUB":
		return "LSUB"
	case "STATUS":
		return "STATUS"
	case "APPEND":
		return "APPEND"
	case "COPY":
		return "COPY"
	case "MOVE":
		return "MOVE"
	case "EXPUNGE":
		return "EXPUNGE"
	case "CLOSE":
		return "CLOSE"
	case "UNSELECT":
		return "UNSELECT"
	case "CHECK":
		return "CHECK"
	case "LOGIN":
		return "LOGIN"
	case "LOGOUT":
		return "LOGOUT"
	case "CAPABILITY":
		return "CAPABILITY"
	case "AUTHENTICATE":
		return "AUTHENTICATE"
	case "ENABLE":
		return "ENABLE"
	case "NAMESPACE":
		return "NAMESPACE"
	case "ID":
		return "ID"
	case "uid":
		return "uid"
	case "fetch":
		return "fetch"
	case "store":
		return "store"
	case "search":
		return "search"
	case "select":
		return "select"
	case "examine":
		return "examine"
	case "noop":
		return "noop"
	case "idle":
		return "idle"
	case "list":
		return "list"
	case "lsub":
		return "lsub"
	case "status":
		return "status"
	case "append":
		return "append"
	case "copy":
		return "copy"
	case "move":
		return "move"
	case "expunge":
		return "expunge"
	case "close":
		return "close"
	case "check":
		return "check"
	case "login":
		return "login"
	case "logout":
		return "logout"
	case "capability":
		return "capability"
	case "id":
		return "id"
	}
	return string(b)
}

// internKeyword returns a keyword flag, without allocating for the common
// ones (RFC 9051 2.3.2, RFC 5788 registry, Thunderbird's labels).
func internKeyword(b []byte) string {
	switch string(b) {
	case "$Forwarded":
		return "$Forwarded"
	case "$MDNSent":
		return "$MDNSent"
	case "$Junk":
		return "$Junk"
	case "$NotJunk":
		return "$NotJunk"
	case "$Phishing":
		return "$Phishing"
	case "Junk":
		return "Junk"
	case "NonJunk":
		return "NonJunk"
	case "$label1":
		return "$label1"
	case "$label2":
		return "$label2"
	case "$label3":
		return "$label3"
	case "$label4":
		return "$label4"
	case "$label5":
		return "$label5"
	}
	return string(b)
}

// internField returns a header field name as sent, without allocating for
// the names clients put in BODY.PEEK[HEADER.FIELDS (...)] on every sync.
func internField(b []byte) string {
	switch string(b) {
	case "From":
		return "From"
	case "To":
		return "To"
	case "Cc":
		return "Cc"
	case "Bcc":
		return "Bcc"
	case "Subject":
		return "Subject"
	case "Date":
		return "Date"
	case "Message-ID":
		return "Message-ID"
	case "Message-Id":
		return "Message-Id"
	case "Priority":
		return "Priority"
	case "X-Priority":
		return "X-Priority"
	case "References":
		return "References"
	case "Newsgroups":
		return "Newsgroups"
	case "In-Reply-To":
		return "In-Reply-To"
	case "Content-Type":
		return "Content-Type"
	case "Reply-To":
		return "Reply-To"
	case "Sender":
		return "Sender"
	case "Importance":
		return "Importance"
	case "List-Post":
		return "List-Post"
	case "List-ID":
		return "List-ID"
	case "List-Unsubscribe":
		return "List-Unsubscribe"
	case "X-Mailer":
		return "X-Mailer"
	case "Content-Transfer-Encoding":
		return "Content-Transfer-Encoding"
	case "MIME-Version":
		return "MIME-Version"
	case "FROM":
		return "FROM"
	case "TO":
		return "TO"
	case "CC":
		return "CC"
	case "BCC":
		return "BCC"
	case "SUBJECT":
		return "SUBJECT"
	case "DATE":
		return "DATE"
	case "MESSAGE-ID":
		return "MESSAGE-ID"
	case "PRIORITY":
		return "PRIORITY"
	case "X-PRIORITY":
		return "X-PRIORITY"
	case "REFERENCES":
		return "REFERENCES"
	case "IN-REPLY-TO":
		return "IN-REPLY-TO"
	case "CONTENT-TYPE":
		return "CONTENT-TYPE"
	case "REPLY-TO":
		return "REPLY-TO"
	case "SENDER":
		return "SENDER"
	case "LIST-POST":
		return "LIST-POST"
	case "X-MAILER":
		return "X-MAILER"
	case "from":
		return "from"
	case "to":
		return "to"
	case "cc":
		return "cc"
	case "bcc":
		return "bcc"
	case "subject":
		return "subject"
	case "date":
		return "date"
	case "message-id":
		return "message-id"
	case "references":
		return "references"
	case "in-reply-to":
		return "in-reply-to"
	case "content-type":
		return "content-type"
	case "reply-to":
		return "reply-to"
	}
	return string(b)
}
