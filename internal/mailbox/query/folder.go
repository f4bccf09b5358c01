package query

import (
	"strings"

	"mailroom/internal/store"
)

// FindFolder resolves the folder of in: among boxes, the same way for
// every caller (the web's search box and JMAP's mailroomQuery): the exact
// name first, then the name in any case (in:inbox, in:archive), then the
// special folders by their usual names (in:spam, in:junk, in:trash,
// in:sent...), whatever they are called in this account.
func FindFolder(boxes []store.Mailbox, name string) (store.Mailbox, bool) {
	for _, mb := range boxes {
		if mb.Name == name {
			return mb, true
		}
	}
	for _, mb := range boxes {
		if strings.EqualFold(mb.Name, name) {
			return mb, true
		}
	}
	use := map[string]store.SpecialUse{
		"junk": store.SpecialJunk, "spam": store.SpecialJunk, "trash": store.SpecialTrash, "bin": store.SpecialTrash,
		"sent": store.SpecialSent, "drafts": store.SpecialDrafts, "archive": store.SpecialArchive,
	}[strings.ToLower(name)]
	for _, mb := range boxes {
		if use != "" && mb.SpecialUse == use {
			return mb, true
		}
	}
	return store.Mailbox{}, false
}

// NoFolder is the error for an in: that FindFolder did not resolve.
func NoFolder(name string) error {
	return &Error{Msg: "There is no folder " + name + "."}
}

// Excluded reports whether a search without in: leaves the mailbox out:
// Junk and Trash, as Gmail's does.
func Excluded(mb store.Mailbox) bool {
	return mb.SpecialUse == store.SpecialJunk || mb.SpecialUse == store.SpecialTrash
}
