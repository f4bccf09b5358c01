package mailapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/delivery"
	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// EmailSubmission (RFC 8621 §7). A submission sends an Email of the
// user's own account through the delivery agent, exactly as SMTP
// submission and the webmail's Send do (submit_send.go): local recipients
// get their copies at once, remote ones go to the outbound queue, which
// signs with DKIM. It is created only once the message is durable for
// every recipient, so its undoStatus is "final" from the start, unless
// the envelope asks to hold it (FUTURERELEASE, RFC 4865: HOLDFOR or
// HOLDUNTIL on mailFrom): then the store keeps the message as it is now
// and the submission is "pending" until its sendAt, when the Releaser
// (submission_release.go) sends it the same way, or until the client
// cancels it (undoStatus "canceled"). The records are kept
// store.EmailSubmissionKeep past sendAt, then pruned by the store's
// maintenance.

// SubmitOptions are what EmailSubmission sends with: the server's
// delivery agent and SMTP submission's limits.
type SubmitOptions struct {
	// Delivery sends; nil refuses every submission (forbiddenToSend).
	Delivery *delivery.Agent
	// MaxRecipients bounds the envelope (0: no bound); MaxMessageSize
	// the message ([smtp] max_recipients, max_message_size).
	MaxRecipients  int
	MaxMessageSize int64
	// PlusSeparator is [smtp] plus_separator: a plus-address of the
	// user's is theirs to send as.
	PlusSeparator string
}

// registerSubmission adds Identity and EmailSubmission.
func (a *API) registerSubmission(reg *jmap.Registry) {
	reg.Capability(CapabilitySubmission, struct{}{})
	reg.Handle(CapabilitySubmission, "Identity/get", a.identityGet)
	reg.Handle(CapabilitySubmission, "Identity/changes", a.identityChanges)
	reg.Handle(CapabilitySubmission, "Identity/set", a.identitySet)
	reg.Handle(CapabilitySubmission, "EmailSubmission/get", a.submissionGet)
	reg.Handle(CapabilitySubmission, "EmailSubmission/changes", a.submissionChanges)
	reg.Handle(CapabilitySubmission, "EmailSubmission/query", a.submissionQuery)
	reg.Handle(CapabilitySubmission, "EmailSubmission/queryChanges", a.submissionQueryChanges)
	reg.Handle(CapabilitySubmission, "EmailSubmission/set", a.submissionSet)
}

// MaxDelayedSend is the longest a submission may be held (maxDelayedSend,
// FUTURERELEASE's max-future-release-interval): a week, long enough to
// schedule a message over a holiday, short enough that a held message is
// not forgotten in the store. It is also how long submissions are kept
// after their sendAt (store.EmailSubmissionKeep).
const MaxDelayedSend = 7 * 24 * time.Hour

// submissionAccountCapability is urn:ietf:params:jmap:submission in an
// account (RFC 8621 §1.3.2): delayed sending up to MaxDelayedSend, and
// the one SMTP extension a client may use in the envelope, FUTURERELEASE
// with RFC 4865's EHLO arguments (the longest interval in seconds and the
// latest date-time).
type submissionAccountCapability struct {
	MaxDelayedSend       int                 `json:"maxDelayedSend"`
	SubmissionExtensions map[string][]string `json:"submissionExtensions"`
}

// personalCapabilities adds the capabilities only the user's own account
// has.
func (a *API) personalCapabilities(ja *jmap.Account) {
	ja.Capabilities[CapabilitySubmission] = submissionAccountCapability{MaxDelayedSend: int(MaxDelayedSend / time.Second),
		SubmissionExtensions: map[string][]string{"FUTURERELEASE": {strconv.Itoa(int(MaxDelayedSend / time.Second)),
			time.Now().UTC().Add(MaxDelayedSend).Truncate(time.Second).Format(time.RFC3339)}}}
	ja.Capabilities[CapabilityVacation] = struct{}{}
	ja.Capabilities[CapabilityQuota] = struct{}{}
	ja.Capabilities[CapabilitySuggest] = struct{}{}
	ja.Primary = append(ja.Primary, CapabilitySubmission, CapabilityVacation, CapabilityQuota, CapabilitySuggest)
}

func submissionID(id int64) string { return "S" + strconv.FormatInt(id, 10) }

// envelopeAddress is RFC 8621's Address (of an Envelope).
type envelopeAddress struct {
	Email      string             `json:"email"`
	Parameters map[string]*string `json:"parameters"`
}

type envelope struct {
	MailFrom envelopeAddress   `json:"mailFrom"`
	RcptTo   []envelopeAddress `json:"rcptTo"`
}

// submissionObject is an EmailSubmission as /get shows it.
type submissionObject struct {
	ID             string    `json:"id"`
	IdentityID     string    `json:"identityId"`
	EmailID        string    `json:"emailId"`
	ThreadID       string    `json:"threadId"`
	Envelope       *envelope `json:"envelope"`
	SendAt         string    `json:"sendAt"`
	UndoStatus     string    `json:"undoStatus"`
	DeliveryStatus any       `json:"deliveryStatus"` // null: the queue keeps no per-submission status
	DSNBlobIDs     []string  `json:"dsnBlobIds"`
	MDNBlobIDs     []string  `json:"mdnBlobIds"`
}

func submissionObjectOf(s store.EmailSubmission) submissionObject {
	env := &envelope{MailFrom: envelopeAddress{Email: s.MailFrom}, RcptTo: []envelopeAddress{}}
	for _, r := range s.RcptTo {
		env.RcptTo = append(env.RcptTo, envelopeAddress{Email: r})
	}
	return submissionObject{ID: submissionID(s.ID), IdentityID: s.IdentityID, EmailID: emailID(s.EmailID),
		ThreadID: threadID(s.ThreadID), Envelope: env, SendAt: s.SendAt.UTC().Format(time.RFC3339),
		UndoStatus: undoStatus(s), DSNBlobIDs: []string{}, MDNBlobIDs: []string{}}
}

// undoStatus is s's undoStatus (the store's values are RFC 8621's).
func undoStatus(s store.EmailSubmission) string {
	if s.UndoStatus == "" {
		return store.UndoFinal
	}
	return s.UndoStatus
}

var submissionProperties = []string{"id", "identityId", "emailId", "threadId", "envelope", "sendAt", "undoStatus",
	"deliveryStatus", "dsnBlobIds", "mdnBlobIds"}

// submissionState is the highest Mod of the account's submissions and
// how many there are: a new submission or a change of undoStatus raises
// the first (store.EmailSubmission.Mod), pruning lowers the second, so
// /changes can tell what happened since. ("-", so that a state of the
// earlier "max.min" form is not taken for one.)
func submissionState(list []store.EmailSubmission) string {
	var mod int64
	for _, s := range list {
		mod = max(mod, s.Mod)
	}
	return strconv.FormatInt(mod, 10) + "-" + strconv.Itoa(len(list))
}

func parseSubmissionState(s string) (mod int64, count int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.Atoi(b)
	return x, y, err1 == nil && err2 == nil && x >= 0 && y >= 0
}

func (a *API) submissions(ctx context.Context, ac *acct) ([]store.EmailSubmission, error) {
	list, err := a.st.EmailSubmissions(ctx, ac.id)
	if err != nil {
		return nil, fmt.Errorf("jmap: %w", err)
	}
	// Those older than kept may wait for the next maintenance round: they
	// are gone already for the client. (Pending ones stay until released.)
	cut := time.Now().Add(-store.EmailSubmissionKeep)
	return slices.DeleteFunc(list, func(s store.EmailSubmission) bool {
		return s.UndoStatus != store.UndoPending && s.SendAt.Before(cut)
	}), nil
}

func (a *API) submissionGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args getArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, err := a.submissions(ctx, ac)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	objects := make(map[string]any, len(list))
	for i, s := range list {
		ids[i] = submissionID(s.ID)
		objects[ids[i]] = submissionObjectOf(s)
	}
	return answerGet(c, &args, ac, submissionState(list), ids, objects, submissionProperties)
}

func (a *API) submissionChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var args changesArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	if args.MaxChanges != nil && *args.MaxChanges < 1 {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "maxChanges must be a positive integer")
	}
	list, err := a.submissions(ctx, ac)
	if err != nil {
		return nil, err
	}
	state := submissionState(list)
	sinceMod, sinceCount, ok := parseSubmissionState(args.SinceState)
	if !ok {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "not a state of EmailSubmission: "+args.SinceState)
	}
	curMod, _, _ := parseSubmissionState(state)
	// Submissions the client saw were pruned since: it does not know
	// which, and nor does the server any more.
	known := 0
	for _, s := range list {
		if s.Created <= sinceMod {
			known++
		}
	}
	if sinceMod > curMod || known != sinceCount {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "submissions were removed since; get them again")
	}
	changed := slices.DeleteFunc(slices.Clone(list), func(s store.EmailSubmission) bool { return s.Mod <= sinceMod })
	slices.SortFunc(changed, func(x, y store.EmailSubmission) int { return cmp.Compare(x.Mod, y.Mod) })
	resp := &changesResponse{AccountID: ac.jid, OldState: args.SinceState, NewState: state, Created: []string{}, Updated: []string{}, Destroyed: []string{}}
	for i, s := range changed {
		// Cut between two Mods only: the state names everything up to one.
		if args.MaxChanges != nil && i >= *args.MaxChanges && s.Mod != changed[i-1].Mod {
			resp.HasMoreChanges = true
			last := changed[i-1].Mod
			n := 0
			for _, x := range list {
				if x.Created <= last {
					n++
				}
			}
			resp.NewState = strconv.FormatInt(last, 10) + "-" + strconv.Itoa(n)
			break
		}
		if s.Created > sinceMod {
			resp.Created = append(resp.Created, submissionID(s.ID))
		} else {
			resp.Updated = append(resp.Updated, submissionID(s.ID))
		}
	}
	return resp, nil
}

// submissionSetArgs are EmailSubmission/set's arguments (RFC 8621 §7.5).
type submissionSetArgs struct {
	setArgs
	OnSuccessUpdateEmail  map[string]json.RawMessage `json:"onSuccessUpdateEmail"`
	OnSuccessDestroyEmail []string                   `json:"onSuccessDestroyEmail"`
}

func (a *API) submissionSet(ctx context.Context, c *jmap.Call) (any, error) {
	var args submissionSetArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if err := checkSetSize(c, &args.setArgs); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, err := a.submissions(ctx, ac)
	if err != nil {
		return nil, err
	}
	old := submissionState(list)
	if args.IfInState != nil && *args.IfInState != old {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state is "+old)
	}
	resp := newSetResponse(ac, old)
	// Which Email each submission that succeeded in this call sent.
	sent := map[string]int64{}
	if len(args.Create) > 0 {
		sub := &submitter{a: a, c: c, ac: ac}
		for cid, raw := range args.Create {
			s, obj, serr := sub.create(ctx, raw)
			if serr != nil {
				resp.NotCreated[cid] = serr
				continue
			}
			id := submissionID(s.ID)
			resp.Created[cid] = obj
			c.Created(cid, id)
			sent[id] = s.EmailID
		}
	}
	kept := map[string]bool{}
	for _, s := range list {
		kept[submissionID(s.ID)] = true
	}
	for key, patch := range args.Update {
		id, _ := c.ResolveID(key)
		if !kept[id] && sent[id] == 0 {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetNotFound, "no such EmailSubmission")
			continue
		}
		n, _ := parseID('S', id)
		if serr := a.updateSubmission(ctx, ac, n, patch); serr != nil {
			resp.NotUpdated[id] = serr
			continue
		}
		resp.Updated[id] = nil
	}
	if args.Destroy != nil {
		for _, key := range *args.Destroy {
			id, _ := c.ResolveID(key)
			if !kept[id] && sent[id] == 0 {
				resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetNotFound, "no such EmailSubmission")
				continue
			}
			resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetForbidden, "submissions are kept for 7 days and then removed by the server")
		}
	}
	if list, err = a.submissions(ctx, ac); err != nil {
		return nil, err
	}
	resp.NewState = submissionState(list)
	if err := a.onSuccess(ctx, c, ac, &args, sent); err != nil {
		return nil, err
	}
	return resp, nil
}

// updateSubmission applies an update of EmailSubmission/set: the only
// property a client may change is undoStatus, and only to "canceled"
// (RFC 8621 §7.5). The store settles a race with the Releaser: the
// cancel wins and nothing is ever sent, or the release already began and
// the update fails with cannotUnsend.
func (a *API) updateSubmission(ctx context.Context, ac *acct, id int64, patch json.RawMessage) *jmap.SetError {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return jmap.NewSetError(jmap.SetInvalidPatch, "the patch is not an object")
	}
	for prop, v := range p {
		if prop != "undoStatus" {
			return jmap.NewSetError(jmap.SetInvalidProperties, "only undoStatus can be changed", prop)
		}
		if string(v) != `"canceled"` {
			return jmap.NewSetError(jmap.SetInvalidProperties, `undoStatus can only be set to "canceled"`, "undoStatus")
		}
	}
	if len(p) == 0 {
		return nil
	}
	err := a.st.CancelEmailSubmission(ctx, ac.id, id, time.Now())
	switch {
	case err == nil:
		a.log.Info("held JMAP submission canceled", "account", ac.email, "submission", id)
		return nil
	case errors.Is(err, store.ErrNotFound):
		return jmap.NewSetError(jmap.SetNotFound, "no such EmailSubmission")
	case errors.Is(err, store.ErrNotPending):
		return jmap.NewSetError(jmap.SetCannotUnsend, "the message was already sent (or is being sent), or was canceled before")
	}
	a.log.Error("jmap: EmailSubmission: cancel", "account", ac.email, "err", err)
	return jmap.NewSetError(jmap.SetForbidden, "the server could not cancel the submission; try again")
}

// onSuccess runs onSuccessUpdateEmail and onSuccessDestroyEmail for the
// submissions this call made, as an implicit Email/set whose response
// follows EmailSubmission/set's (RFC 8621 §7.5). Keys are submission ids
// or "#" and a creation id of this call; others name no success.
func (a *API) onSuccess(ctx context.Context, c *jmap.Call, ac *acct, args *submissionSetArgs, sent map[string]int64) error {
	if len(args.OnSuccessUpdateEmail) == 0 && len(args.OnSuccessDestroyEmail) == 0 {
		return nil
	}
	set := &setArgs{AccountID: ac.jid, Update: map[string]json.RawMessage{}}
	for key, patch := range args.OnSuccessUpdateEmail {
		id, _ := c.ResolveID(key)
		if email, ok := sent[id]; ok {
			set.Update[emailID(email)] = patch
		}
	}
	var destroy []string
	for _, key := range args.OnSuccessDestroyEmail {
		id, _ := c.ResolveID(key)
		if email, ok := sent[id]; ok {
			destroy = append(destroy, emailID(email))
		}
	}
	if len(set.Update) == 0 && len(destroy) == 0 {
		return nil
	}
	set.Destroy = &destroy
	resp, err := a.setEmails(ctx, c, ac, set)
	if err != nil {
		return err
	}
	return c.Respond("Email/set", resp)
}
