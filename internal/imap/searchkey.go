package imap

import (
	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox/search"
)

// searchKey turns SEARCH's parsed criteria into the mailbox service's
// query. The copy also takes the sets out of the decoder's arena.
func searchKey(k *wire.SearchKey) *search.Key {
	if k == nil {
		return nil
	}
	out := &search.Key{Op: k.Op, Value: k.Value, Field: k.Field, EntryType: k.EntryType, Date: k.Date,
		Number: k.Number, Saved: k.Saved}
	out.Set = k.Set.Clone() // out of the decoder's arena
	if k.Children != nil {
		out.Children = make([]*search.Key, len(k.Children))
		for i, c := range k.Children {
			out.Children[i] = searchKey(c)
		}
	}
	return out
}
