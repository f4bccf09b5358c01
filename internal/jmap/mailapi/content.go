package mailapi

import (
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// contentProperties sets the properties read from the message itself.
func (a *API) contentProperties(o map[string]any, st *mime.Message, body store.Body, props map[string]bool, args *emailGetArgs) error {
	var env *mime.Envelope
	if st.Root != nil {
		env = st.Root.Envelope
	}
	if env == nil {
		env = &mime.Envelope{}
	}
	for p := range props {
		switch p {
		case "subject":
			o[p] = env.DecodedSubject
		case "from":
			o[p] = addressesOf(env.From)
		case "to":
			o[p] = addressesOf(env.To)
		case "cc":
			o[p] = addressesOf(env.Cc)
		case "preview":
			o[p] = st.Preview
		case "hasAttachment":
			o[p] = hasAttachment(st)
		}
	}
	return nil
}

type emailAddress struct {
	Name  *string `json:"name"`
	Email string  `json:"email"`
}

func addressesOf(list []mime.Address) []emailAddress {
	if len(list) == 0 {
		return nil
	}
	out := make([]emailAddress, 0, len(list))
	for _, ad := range list {
		if ad.GroupStart || ad.GroupEnd {
			continue
		}
		e := emailAddress{Email: ad.Mailbox + "@" + ad.Host}
		if ad.DecodedName != "" {
			n := ad.DecodedName
			e.Name = &n
		}
		out = append(out, e)
	}
	return out
}
