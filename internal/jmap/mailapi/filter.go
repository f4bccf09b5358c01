package mailapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/store"
)

// Bounds on a filter, so that a hostile one (a FilterOperator 1,000
// levels deep, a million conditions) costs bounded work and memory.
const (
	maxFilterDepth = 16
	maxFilterNodes = 256
)

// filterNode is a parsed Email/query filter: an operator over children,
// or a condition.
type filterNode struct {
	op       string // "AND", "OR", "NOT"; "" for a condition
	children []*filterNode
	cond     *emailCondition
	// content is the index of the condition's content search among
	// filter.content (-1: none).
	content int
}

// emailCondition is RFC 8621 §4.4.1's FilterCondition.
type emailCondition struct {
	InMailbox               *string   `json:"inMailbox"`
	InMailboxOtherThan      *[]string `json:"inMailboxOtherThan"`
	Before                  *string   `json:"before"`
	After                   *string   `json:"after"`
	MinSize                 *int64    `json:"minSize"`
	MaxSize                 *int64    `json:"maxSize"`
	AllInThreadHaveKeyword  *string   `json:"allInThreadHaveKeyword"`
	SomeInThreadHaveKeyword *string   `json:"someInThreadHaveKeyword"`
	NoneInThreadHaveKeyword *string   `json:"noneInThreadHaveKeyword"`
	HasKeyword              *string   `json:"hasKeyword"`
	NotKeyword              *string   `json:"notKeyword"`
	HasAttachment           *bool     `json:"hasAttachment"`
	Text                    *string   `json:"text"`
	From                    *string   `json:"from"`
	To                      *string   `json:"to"`
	Cc                      *string   `json:"cc"`
	Bcc                     *string   `json:"bcc"`
	Subject                 *string   `json:"subject"`
	Body                    *string   `json:"body"`
	Header                  *[]string `json:"header"`
	// MailroomQuery is the search box's language (CapabilitySearch;
	// search.go).
	MailroomQuery *string `json:"mailroomQuery"`

	before, after time.Time
	folders       map[int64]bool // inMailbox (one) or inMailboxOtherThan (those excluded)
	mq            *mailroomQuery
}

// filter is a parsed filter with its content searches (each run once per
// folder, answering a set of messages).
type filter struct {
	root    *filterNode
	content []*search.Key
	nodes   int
	threads bool // a condition needs whole-thread keyword counts
	// search: the request uses CapabilitySearch, so mailroomQuery is a
	// known property.
	search bool
	// inMailbox: some condition has inMailbox (then a mailroomQuery
	// without in: leaves Junk and Trash in).
	inMailbox bool
	queries   []*emailCondition // the conditions with a mailroomQuery
}

// parseFilter parses an Email/query (or SearchSnippet/get,
// Email/queryChanges) filter; an absent or null one matches everything.
func parseFilter(c *jmap.Call, ac *acct, raw json.RawMessage) (*filter, error) {
	f := &filter{search: c.Using(CapabilitySearch)}
	if len(raw) == 0 || string(raw) == "null" {
		return f, nil
	}
	var err error
	if f.root, err = f.parse(raw, ac, 0); err != nil {
		return nil, err
	}
	// The Junk and Trash rule depends on the whole filter.
	for _, c := range f.queries {
		c.mq.scope(f.inMailbox)
	}
	return f, nil
}

func (f *filter) parse(raw json.RawMessage, ac *acct, depth int) (*filterNode, error) {
	f.nodes++
	if f.nodes > maxFilterNodes {
		return nil, jmap.Errorf(jmap.ErrUnsupportedFilter, fmt.Sprintf("the filter has more than %d parts", maxFilterNodes))
	}
	if depth > maxFilterDepth {
		return nil, jmap.Errorf(jmap.ErrUnsupportedFilter, fmt.Sprintf("the filter is nested more than %d levels deep", maxFilterDepth))
	}
	var probe struct {
		Operator   *string           `json:"operator"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "filter: "+err.Error())
	}
	if probe.Operator != nil {
		op := *probe.Operator
		if op != "AND" && op != "OR" && op != "NOT" {
			return nil, jmap.Errorf(jmap.ErrUnsupportedFilter, fmt.Sprintf("no operator %q", op))
		}
		var strict struct {
			Operator   string            `json:"operator"`
			Conditions []json.RawMessage `json:"conditions"`
		}
		if err := decodeStrict(raw, &strict); err != nil || strict.Conditions == nil {
			return nil, jmap.Errorf(jmap.ErrInvalidArguments, "a FilterOperator has operator and conditions only")
		}
		n := &filterNode{op: op, content: -1}
		for _, c := range strict.Conditions {
			child, err := f.parse(c, ac, depth+1)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, child)
		}
		return n, nil
	}
	var c emailCondition
	if err := decodeStrict(raw, &c); err != nil {
		return nil, jmap.Errorf(jmap.ErrUnsupportedFilter, "filter condition: "+err.Error())
	}
	if err := c.prepare(ac); err != nil {
		return nil, err
	}
	if c.MailroomQuery != nil {
		if !f.search {
			return nil, jmap.Errorf(jmap.ErrUnsupportedFilter, "mailroomQuery needs the capability "+CapabilitySearch+" in using")
		}
		mq, err := parseMailroomQuery(*c.MailroomQuery, ac)
		if err != nil {
			return nil, err
		}
		c.mq = mq
		f.queries = append(f.queries, &c)
	}
	if c.InMailbox != nil {
		f.inMailbox = true
	}
	n := &filterNode{cond: &c, content: -1}
	if k := c.contentKey(); k != nil {
		n.content = len(f.content)
		f.content = append(f.content, k)
	}
	if c.AllInThreadHaveKeyword != nil || c.SomeInThreadHaveKeyword != nil || c.NoneInThreadHaveKeyword != nil {
		f.threads = true
	}
	return n, nil
}

func (c *emailCondition) prepare(ac *acct) error {
	for _, d := range []struct {
		v   *string
		dst *time.Time
		n   string
	}{{c.Before, &c.before, "before"}, {c.After, &c.after, "after"}} {
		if d.v == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339, *d.v)
		if err != nil || !strings.HasSuffix(*d.v, "Z") {
			return jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("%s is a UTCDate (2024-01-31T12:00:00Z)", d.n))
		}
		*d.dst = t
	}
	if c.InMailbox != nil {
		f, ok := ac.folder(*c.InMailbox)
		c.folders = map[int64]bool{}
		if ok {
			c.folders[f.ID()] = true
		}
	}
	if c.InMailboxOtherThan != nil {
		c.folders = map[int64]bool{}
		for _, id := range *c.InMailboxOtherThan {
			if f, ok := ac.folder(id); ok {
				c.folders[f.ID()] = true
			}
		}
	}
	for _, kw := range []*string{c.AllInThreadHaveKeyword, c.SomeInThreadHaveKeyword, c.NoneInThreadHaveKeyword, c.HasKeyword, c.NotKeyword} {
		if kw != nil && !validKeyword(*kw) {
			return jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("%q is not a keyword", *kw))
		}
	}
	if c.Header != nil && (len(*c.Header) < 1 || len(*c.Header) > 2 || (*c.Header)[0] == "") {
		return jmap.Errorf(jmap.ErrInvalidArguments, "header is [name] or [name, value]")
	}
	return nil
}

// contentKey is the part of the condition the search engine answers from
// the messages' content (nil: none).
func (c *emailCondition) contentKey() *search.Key {
	var keys []*search.Key
	add := func(op string, v *string) {
		if v != nil {
			keys = append(keys, &search.Key{Op: op, Value: *v})
		}
	}
	add("TEXT", c.Text)
	add("FROM", c.From)
	add("TO", c.To)
	add("CC", c.Cc)
	add("BCC", c.Bcc)
	add("SUBJECT", c.Subject)
	add("BODY", c.Body)
	if c.Header != nil {
		h := *c.Header
		k := &search.Key{Op: "HEADER", Field: h[0]}
		if len(h) == 2 {
			k.Value = h[1]
		}
		keys = append(keys, k)
	}
	if c.mq != nil && c.mq.q.Key.Op != "ALL" {
		keys = append(keys, c.mq.q.Key)
	}
	if c.HasAttachment != nil {
		k := &search.Key{Op: "HASATTACHMENT"}
		if !*c.HasAttachment {
			k = &search.Key{Op: "NOT", Children: []*search.Key{k}}
		}
		keys = append(keys, k)
	}
	switch len(keys) {
	case 0:
		return nil
	case 1:
		return keys[0]
	}
	return &search.Key{Op: "AND", Children: keys}
}

// validKeyword: RFC 8621 §4.1.1's keyword characters (IMAP atom
// characters, no "(" ")" "{" "]" "%" "*" `"` `\`), 1 to 255 of them.
func validKeyword(k string) bool {
	if k == "" || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`(){]%*"\`), c) >= 0 {
			return false
		}
	}
	return true
}

// hasKeyword reports a message's JMAP keyword.
func hasKeyword(m store.MessageMeta, kw string) bool {
	switch strings.ToLower(kw) {
	case "$seen":
		return m.Flags&store.FlagSeen != 0
	case "$flagged":
		return m.Flags&store.FlagFlagged != 0
	case "$answered":
		return m.Flags&store.FlagAnswered != 0
	case "$draft":
		return m.Flags&store.FlagDraft != 0
	}
	for _, k := range m.Keywords {
		if strings.EqualFold(k, kw) {
			return true
		}
	}
	return false
}

// threadStats counts, per thread and keyword asked about, how many of the
// thread's messages have it.
type threadStats struct {
	total map[int64]int
	with  map[string]map[int64]int
}

// match evaluates the filter for one message; hits are the content
// searches' answers for its folder.
func (f *filter) match(n *filterNode, folder int64, m store.MessageMeta, hits []map[uint32]bool, ts *threadStats) bool {
	switch n.op {
	case "AND":
		for _, c := range n.children {
			if !f.match(c, folder, m, hits, ts) {
				return false
			}
		}
		return true
	case "OR":
		for _, c := range n.children {
			if f.match(c, folder, m, hits, ts) {
				return true
			}
		}
		return false
	case "NOT":
		for _, c := range n.children {
			if f.match(c, folder, m, hits, ts) {
				return false
			}
		}
		return true
	}
	c := n.cond
	if c.InMailbox != nil && !c.folders[folder] {
		return false
	}
	if c.InMailboxOtherThan != nil && c.folders[folder] {
		return false
	}
	if c.mq != nil && !c.mq.inScope(folder) {
		return false
	}
	received := time.Unix(m.InternalDate, 0)
	if c.Before != nil && !received.Before(c.before) {
		return false
	}
	if c.After != nil && received.Before(c.after) {
		return false
	}
	if c.MinSize != nil && m.Size < *c.MinSize {
		return false
	}
	if c.MaxSize != nil && m.Size >= *c.MaxSize {
		return false
	}
	if c.HasKeyword != nil && !hasKeyword(m, *c.HasKeyword) {
		return false
	}
	if c.NotKeyword != nil && hasKeyword(m, *c.NotKeyword) {
		return false
	}
	if ts != nil {
		total := ts.total[m.ThreadID]
		if kw := c.AllInThreadHaveKeyword; kw != nil && ts.with[strings.ToLower(*kw)][m.ThreadID] != total {
			return false
		}
		if kw := c.SomeInThreadHaveKeyword; kw != nil && ts.with[strings.ToLower(*kw)][m.ThreadID] == 0 {
			return false
		}
		if kw := c.NoneInThreadHaveKeyword; kw != nil && ts.with[strings.ToLower(*kw)][m.ThreadID] != 0 {
			return false
		}
	}
	if n.content >= 0 && !hits[n.content][m.UID] {
		return false
	}
	return true
}

// threadKeywords lists the keywords the filter's and sort's thread
// conditions ask about, lower case.
func (f *filter) threadKeywords(n *filterNode, out map[string]bool) {
	if n == nil {
		return
	}
	for _, c := range n.children {
		f.threadKeywords(c, out)
	}
	if c := n.cond; c != nil {
		for _, kw := range []*string{c.AllInThreadHaveKeyword, c.SomeInThreadHaveKeyword, c.NoneInThreadHaveKeyword} {
			if kw != nil {
				out[strings.ToLower(*kw)] = true
			}
		}
	}
}

// onlyFolder is the one folder a filter limits the query to (a top-level
// inMailbox, alone or in a top-level AND), 0 if none: then only that
// folder is read.
func (f *filter) onlyFolder() int64 {
	n := f.root
	if n == nil {
		return 0
	}
	conds := []*filterNode{n}
	if n.op == "AND" {
		conds = n.children
	}
	for _, c := range conds {
		if c.cond != nil && c.cond.InMailbox != nil {
			for id := range c.cond.folders {
				return id
			}
			return -1 // a mailbox the user cannot see: nothing matches
		}
		if c.cond != nil && c.cond.mq != nil && c.cond.mq.in != 0 {
			return c.cond.mq.in
		}
	}
	return 0
}

// mayMatchFolder is false when no message of the folder can match, by the
// filter's folder conditions alone: runQuery then reads none of it (a
// search language query without in: never reads Junk and Trash).
func (f *filter) mayMatchFolder(n *filterNode, folder int64) bool {
	if n == nil {
		return true
	}
	switch n.op {
	case "AND":
		for _, c := range n.children {
			if !f.mayMatchFolder(c, folder) {
				return false
			}
		}
		return true
	case "OR":
		for _, c := range n.children {
			if f.mayMatchFolder(c, folder) {
				return true
			}
		}
		return false
	case "NOT":
		return true // a folder condition under NOT excludes, never includes
	}
	c := n.cond
	if c.InMailbox != nil && !c.folders[folder] {
		return false
	}
	if c.InMailboxOtherThan != nil && c.folders[folder] {
		return false
	}
	return c.mq == nil || c.mq.inScope(folder)
}
