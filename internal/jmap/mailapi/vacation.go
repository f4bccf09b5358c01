package mailapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/sieverules"
)

// VacationResponse (RFC 8621 §8) is the vacation notice of the account's
// managed Sieve script (internal/sieverules), the one the webmail's
// Vacation form edits: both show the same notice. The model keeps days,
// not instants, in the server's time zone: fromDate is stored as its day
// (the notice starts at that day's midnight) and toDate, the first
// instant without the notice, as the day before it, so midnight-aligned
// dates come back as given and others are rounded to whole days. The
// model has plain text only: htmlBody is always null, and setting it is
// refused (invalidProperties). A script edited by hand is not the model's:
// it shows as no vacation, and /set refuses (forbidden) rather than
// overwrite it.

// CapabilityVacation is RFC 8621's vacationresponse capability.
const CapabilityVacation = "urn:ietf:params:jmap:vacationresponse"

const vacationID = "singleton"

func (a *API) registerVacation(reg *jmap.Registry) {
	reg.Capability(CapabilityVacation, struct{}{})
	reg.Handle(CapabilityVacation, "VacationResponse/get", a.vacationGet)
	reg.Handle(CapabilityVacation, "VacationResponse/set", a.vacationSet)
}

// vacationObject is the VacationResponse.
type vacationObject struct {
	ID        string  `json:"id"`
	IsEnabled bool    `json:"isEnabled"`
	FromDate  *string `json:"fromDate"`
	ToDate    *string `json:"toDate"`
	Subject   *string `json:"subject"`
	TextBody  *string `json:"textBody"`
	HTMLBody  *string `json:"htmlBody"`
}

var vacationProperties = []string{"id", "isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody"}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// dayStart is midnight of a "2006-01-02" day in the server's zone, in UTC.
func dayStart(day string, next bool) *string {
	t, err := time.ParseInLocation(time.DateOnly, day, time.Local)
	if err != nil {
		return nil
	}
	if next {
		t = t.AddDate(0, 0, 1)
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func vacationObjectOf(v sieverules.Vacation) vacationObject {
	o := vacationObject{ID: vacationID, IsEnabled: v.Enabled, Subject: nonEmpty(v.Subject), TextBody: nonEmpty(v.Body)}
	if v.From != "" {
		o.FromDate = dayStart(v.From, false)
	}
	if v.Until != "" {
		o.ToDate = dayStart(v.Until, true)
	}
	return o
}

func (a *API) vacation(ctx context.Context, ac *acct) (sieverules.Managed, vacationObject, string, error) {
	m, err := sieverules.Load(ctx, a.st, ac.id)
	if err != nil {
		return m, vacationObject{}, "", fmt.Errorf("jmap: vacation of %s: %w", ac.email, err)
	}
	o := vacationObjectOf(m.Rules.Vacation)
	b, _ := json.Marshal(o)
	sum := sha256.Sum256(append(b, m.Text...))
	return m, o, hex.EncodeToString(sum[:8]), nil
}

func (a *API) vacationGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args getArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	_, o, state, err := a.vacation(ctx, ac)
	if err != nil {
		return nil, err
	}
	return answerGet(c, &args, ac, state, []string{vacationID}, map[string]any{vacationID: o}, vacationProperties)
}

// vacationPatch is what VacationResponse/set may change.
type vacationPatch struct {
	ID        *string         `json:"id"`
	IsEnabled *bool           `json:"isEnabled"`
	FromDate  json.RawMessage `json:"fromDate"`
	ToDate    json.RawMessage `json:"toDate"`
	Subject   json.RawMessage `json:"subject"`
	TextBody  json.RawMessage `json:"textBody"`
	HTMLBody  json.RawMessage `json:"htmlBody"`
}

// nullableString reads a String|null patch value: given, and its value.
func nullableString(raw json.RawMessage) (string, bool, error) {
	if raw == nil {
		return "", false, nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, err
	}
	if s == nil {
		return "", true, nil
	}
	return *s, true, nil
}

// apply changes v; a SetError if a value is not acceptable.
func (p *vacationPatch) apply(v *sieverules.Vacation) *jmap.SetError {
	if p.ID != nil && *p.ID != vacationID {
		return jmap.NewSetError(jmap.SetInvalidProperties, "id is singleton", "id")
	}
	if html, given, err := nullableString(p.HTMLBody); err != nil || (given && html != "") {
		return jmap.NewSetError(jmap.SetInvalidProperties, "the vacation notice is plain text here: set textBody, and htmlBody null", "htmlBody")
	}
	if p.IsEnabled != nil {
		v.Enabled = *p.IsEnabled
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{{"subject", p.Subject, &v.Subject}, {"textBody", p.TextBody, &v.Body}} {
		s, given, err := nullableString(f.raw)
		if err != nil {
			return jmap.NewSetError(jmap.SetInvalidProperties, f.name+" is a string or null", f.name)
		}
		if given {
			*f.dst = s
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
		end  bool
	}{{"fromDate", p.FromDate, &v.From, false}, {"toDate", p.ToDate, &v.Until, true}} {
		s, given, err := nullableString(f.raw)
		if err != nil {
			return jmap.NewSetError(jmap.SetInvalidProperties, f.name+" is a UTCDate or null", f.name)
		}
		if !given {
			continue
		}
		if s == "" {
			*f.dst = ""
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return jmap.NewSetError(jmap.SetInvalidProperties, f.name+" is a UTCDate (2006-01-02T15:04:05Z)", f.name)
		}
		if f.end {
			// toDate is the first instant without the notice; the model
			// keeps the last day with it.
			t = t.Add(-time.Nanosecond)
		}
		*f.dst = t.In(time.Local).Format(time.DateOnly)
	}
	if v.Days == 0 {
		v.Days = sieverules.DefaultDays
	}
	return nil
}

func (a *API) vacationSet(ctx context.Context, c *jmap.Call) (any, error) {
	var args setArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	m, _, old, err := a.vacation(ctx, ac)
	if err != nil {
		return nil, err
	}
	if args.IfInState != nil && *args.IfInState != old {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state is "+old)
	}
	resp := newSetResponse(ac, old)
	for cid := range args.Create {
		resp.NotCreated[cid] = jmap.NewSetError(jmap.SetSingleton, "there is one VacationResponse, singleton: update it")
	}
	if args.Destroy != nil {
		for _, id := range *args.Destroy {
			resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetSingleton, "the VacationResponse cannot be destroyed: set isEnabled false")
		}
	}
	for key, raw := range args.Update {
		id, _ := c.ResolveID(key)
		if id != vacationID {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetNotFound, "the VacationResponse is singleton")
			continue
		}
		if m.Edited {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetForbidden, "the account's filter script was edited by hand: change the vacation notice in it")
			continue
		}
		var p vacationPatch
		if err := decodeStrict(raw, &p); err != nil {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetInvalidProperties, err.Error())
			continue
		}
		var serr *jmap.SetError
		_, err := sieverules.Update(ctx, a.st, ac.id, func(rs *sieverules.Rules) error {
			if serr = p.apply(&rs.Vacation); serr != nil {
				return serr
			}
			return nil
		})
		switch {
		case serr != nil:
			resp.NotUpdated[id] = serr
		case errors.Is(err, sieverules.ErrEdited):
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetForbidden, "the account's filter script was edited by hand: change the vacation notice in it")
		case errors.Is(err, sieverules.ErrInvalid):
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetInvalidProperties, err.Error())
		case err != nil:
			return nil, fmt.Errorf("jmap: save the vacation of %s: %w", ac.email, err)
		default:
			resp.Updated[id] = nil
		}
	}
	if _, _, resp.NewState, err = a.vacation(ctx, ac); err != nil {
		return nil, err
	}
	return resp, nil
}
