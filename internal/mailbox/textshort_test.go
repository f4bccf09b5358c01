package mailbox

import (
	"context"
	"slices"
	"testing"

	"mailroom/internal/mailbox/search"
)

// TestSearchShortCJK: 1–2 character CJK needles (answered from the short
// grams) give what the evaluator gives, through the whole path: RFC 2047
// subjects, base64 and HTML bodies, case folding of full-width letters,
// and no match across two fields or two parts; no message is read.
func TestSearchShortCJK(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.appendRaw("From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\r\nSubject: =?UTF-8?B?5Lya6K2w44Gu44GK55+l44KJ44Gb?=\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n5Lqs6YO944Gn5Lya44GE44G+44GX44KH44GG44CC\r\n", "")
	b := f.appendRaw("Subject: ＡＢ東\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n我们明\r\n--x\r\n"+
		"Content-Type: text/html; charset=utf-8\r\n\r\n<p>天气很好</p>\r\n--x--\r\n", "")
	c := f.appendRaw("Subject: plain\r\n\r\nno CJK here, OK\r\n", "")
	for _, tc := range []struct {
		op, value string
		want      []uint32
	}{
		{"SUBJECT", "会議", []uint32{a}}, // 会議のお知らせ, RFC 2047
		{"TEXT", "会議", []uint32{a}},
		{"BODY", "会議", nil},
		{"BODY", "京都", []uint32{a}}, // 京都で会いましょう。, base64
		{"FROM", "山田", []uint32{a}},
		{"TO", "山田", nil},
		{"TEXT", "知", []uint32{a}},
		{"SUBJECT", "ａｂ", []uint32{b}}, // full-width, folded
		{"TEXT", "ｂ東", []uint32{b}},
		{"TEXT", "東我", nil}, // subject then body
		{"BODY", "明天", nil}, // two parts
		{"BODY", "天气", []uint32{b}},
		{"BODY", "う。", []uint32{a}},
		{"TEXT", "OK", []uint32{c}},
		{"TEXT", "東", []uint32{b}},
	} {
		m, err := search.Compile(&search.Key{Op: tc.op, Value: tc.value}, search.Context{MaxSeq: 3, MaxUID: c})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.reg.Search(ctx, f.inbox.ID, m, f.messages(true))
		if err != nil {
			t.Fatal(err)
		}
		want := f.evaluated(m)
		if !slices.Equal(got, tc.want) || !slices.Equal(want, tc.want) {
			t.Errorf("%s %q: index %v, evaluator %v, want %v", tc.op, tc.value, got, want, tc.want)
		}
	}
}
