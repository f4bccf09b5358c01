package store

import (
	"slices"
	"strings"
	"testing"
)

func TestShortGrams(t *testing.T) {
	doc := &TextDoc{
		Subject: "東京の会議\n",
		Header:  "SUBJECT: 東京の会議\n",
		Body:    "A会\n議B ТЕКСТ ｶﾅ\n",
		From:    "ALICE <A@EXAMPLE.ORG>\n",
	}
	got := ShortGrams(doc)
	for _, want := range []string{"s東", "s東京", "s京の", "sの会", "s会議", "h東京", "b会", "b議", "bｶﾅ", "bｶ"} {
		if !slices.Contains(got, want) {
			t.Errorf("grams lack %q: %q", want, got)
		}
	}
	for _, not := range []string{"b会議", "bA会", "f", "bТЕ", "h東京の", "s議\n"} {
		if slices.Contains(got, not) {
			t.Errorf("grams hold %q: %q", not, got)
		}
	}
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Errorf("duplicate gram %q", g)
		}
		seen[g] = true
	}
	if g := ShortGrams(&TextDoc{Header: "SUBJECT: HELLO – WORLD ÇA VA\n", Body: strings.Repeat("KÖLN ", 100)}); len(g) != 0 {
		t.Errorf("grams of European text: %q", g)
	}
}

func TestShortGramNeedle(t *testing.T) {
	for needle, want := range map[string]bool{
		"会": true, "会議": true, "東京の": false, "A会": false, "AB": false, "": false,
		"カナ": true, "한국": true, "ｶﾅ": true, "𠀋": true, "é": false, "Ж": false,
	} {
		if got := ShortGramNeedle(needle); got != want {
			t.Errorf("ShortGramNeedle(%q) = %v, want %v", needle, got, want)
		}
	}
	if got := GramTokens(TextAll, "会議"); !slices.Equal(got, []string{"h会議", "b会議"}) {
		t.Errorf("GramTokens(TextAll) = %q", got)
	}
	if got := GramTokens(99, "会議"); got != nil {
		t.Errorf("GramTokens(99) = %q", got)
	}
}

// FuzzShortGrams checks the exactness the index relies on: for a needle
// ShortGramNeedle accepts, a field holds the needle exactly when the
// field's token is among the doc's grams; and the grams are distinct.
func FuzzShortGrams(f *testing.F) {
	f.Add("東京の会議\nA会\n議B", "会議")
	f.Add("我们明\n天气很好", "明天")
	f.Add("ｶﾀｶﾅ ＡＢ", "ＡＢ")
	f.Add("𠀋𠀋𠀋", "𠀋")
	f.Add("\xe3\x81\x82\xff\xe3\x81\x84", "あい")
	f.Fuzz(func(t *testing.T, text, needle string) {
		doc := &TextDoc{Body: text, Subject: needle}
		grams := ShortGrams(doc)
		seen := map[string]bool{}
		for _, g := range grams {
			if seen[g] {
				t.Fatalf("duplicate gram %q", g)
			}
			seen[g] = true
		}
		if !ShortGramNeedle(needle) {
			return
		}
		for _, f := range []TextField{TextBody, TextSubject} {
			tok := GramTokens(f, needle)[0]
			if got, want := seen[tok], strings.Contains(doc.Field(f), needle); got != want {
				t.Fatalf("field %d %q, needle %q: gram %v, substring %v", f, doc.Field(f), needle, got, want)
			}
		}
	})
}
