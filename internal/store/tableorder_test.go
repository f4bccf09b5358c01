package store

import (
	"slices"
	"strings"
	"testing"
)

func TestTableOrder(t *testing.T) {
	got, err := TableOrder([]string{"messages", "accounts", "mailboxes", "domains", "junk"}, map[string][]string{
		"accounts":  {"domains"},
		"mailboxes": {"accounts", "mailboxes"},  // a self reference does not constrain
		"messages":  {"mailboxes", "elsewhere"}, // nor does a table not copied
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"domains", "junk", "accounts", "mailboxes", "messages"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	_, err = TableOrder([]string{"a", "b", "c"}, map[string][]string{"a": {"b"}, "b": {"a"}})
	if err == nil || !strings.Contains(err.Error(), "cycle among tables [a b]") {
		t.Errorf("cycle: %v", err)
	}
}
