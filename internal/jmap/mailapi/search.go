package mailapi

import (
	"errors"

	"mailroom/internal/jmap"
	"mailroom/internal/mailbox/query"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/store"
)

// The search language over JMAP: Email/query's FilterCondition property
// "mailroomQuery" is the text of the webmail's search box, parsed by
// package query and evaluated by the same search engine, with in:
// resolved by query.FindFolder as the old search box resolves it. A vendor
// extension (RFC 8620 §2: a capability the client names in using; §5.5:
// extra filter properties), so the new webmail's one search box means
// what the old one did.

// CapabilitySearch is the search language's capability.
const CapabilitySearch = "urn:mailroom:params:jmap:search"

// mailroomQuery is a parsed mailroomQuery with its folders resolved.
type mailroomQuery struct {
	q query.Query
	// in is the folder of in: (0: none).
	in int64
	// exclude are the folders a query without in: leaves out (Junk and
	// Trash), unless in:anywhere or the filter has inMailbox.
	exclude map[int64]bool
	// junkTrash are the account's Junk and Trash folders, for scope.
	junkTrash []int64
}

// parseMailroomQuery parses the text: a query the user must fix is
// invalidArguments with the parser's message, meant to be shown.
func parseMailroomQuery(text string, ac *acct) (*mailroomQuery, error) {
	q, err := query.Parse(text)
	if err != nil {
		return nil, queryError(err)
	}
	mq := &mailroomQuery{q: q}
	boxes := make([]store.Mailbox, len(ac.folders))
	for i, f := range ac.folders {
		boxes[i] = f.Mailbox()
		if f.Owner() != "" {
			// In a shared account, a folder is named as its owner
			// names it, as its Mailbox object is.
			boxes[i].Name = ownerName(f)
		}
		if query.Excluded(boxes[i]) {
			mq.junkTrash = append(mq.junkTrash, f.ID())
		}
	}
	if q.In != "" {
		mb, ok := query.FindFolder(boxes, q.In)
		if !ok {
			return nil, queryError(query.NoFolder(q.In))
		}
		mq.in = mb.ID
	}
	return mq, nil
}

func queryError(err error) error {
	var qe *query.Error
	if errors.As(err, &qe) {
		return jmap.Errorf(jmap.ErrInvalidArguments, qe.Msg)
	}
	return err
}

// scope applies the Junk and Trash rule: a query with neither in: nor
// in:anywhere leaves them out, unless the filter names its mailbox with
// inMailbox (a search in Trash finds what is in Trash).
func (mq *mailroomQuery) scope(inMailbox bool) {
	if mq.in != 0 || mq.q.Anywhere || inMailbox {
		return
	}
	mq.exclude = map[int64]bool{}
	for _, id := range mq.junkTrash {
		mq.exclude[id] = true
	}
}

// inScope reports whether the query looks into the folder at all.
func (mq *mailroomQuery) inScope(folder int64) bool {
	if mq.in != 0 {
		return folder == mq.in
	}
	return !mq.exclude[folder]
}

// keyTerms collects the words and phrases of the search criteria that
// look at the subject and the body, for SearchSnippet/get: SUBJECT's in
// the subject, TEXT's (a plain word or phrase) in both, BODY's in the
// body; those under NOT match by their absence and mark nothing.
func keyTerms(k *search.Key, subject, body *[]string) {
	if k == nil || k.Op == "NOT" {
		return
	}
	for _, ch := range k.Children {
		keyTerms(ch, subject, body)
	}
	switch k.Op {
	case "SUBJECT":
		*subject = append(*subject, k.Value)
	case "TEXT":
		*subject = append(*subject, k.Value)
		*body = append(*body, k.Value)
	case "BODY":
		*body = append(*body, k.Value)
	}
}
