package mailapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// States. Every type of an account has the same state: the account's
// modseq (every change to its mailboxes and messages takes a new one) and
// its next message ID (an Email whose id is not below it did not exist
// at that state). So a state names a point in the account's history
// exactly, and /changes answers from the store what happened after it.

func formatState(account int64, s store.AccountState) string {
	return strconv.FormatInt(account, 10) + "-" + strconv.FormatUint(s.ModSeq, 10) + "-" + strconv.FormatInt(s.NextMessageID, 10)
}

// state is the current state of the account's types.
func (a *API) state(ctx context.Context, ac *acct) (string, error) {
	if err := a.svc.Barrier(ctx); err != nil {
		return "", fmt.Errorf("jmap: state: %w", err)
	}
	st, err := a.st.AccountState(ctx, ac.id)
	if err != nil {
		return "", fmt.Errorf("jmap: state of account %d: %w", ac.id, err)
	}
	return formatState(ac.id, st), nil
}

// mailTypes share the account's state (RFC 8621 §1.5: EmailDelivery
// changes with every new Email, as here).
var mailTypes = []string{"Mailbox", "Email", "Thread", "EmailDelivery"}

// States implements jmap.States: the mail types of every account, and the
// types of the user's own account that have states of their own
// (Identity, EmailSubmission, VacationResponse, Quota), each read only
// when asked for.
func (a *API) States(ctx context.Context, u jmap.User, want map[string]bool) (map[string]map[string]string, error) {
	wants := func(t string) bool { return want == nil || want[t] }
	accounts, err := a.accounts(ctx, u)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(accounts))
	for _, ac := range accounts {
		types := map[string]string{}
		if slices.ContainsFunc(mailTypes, wants) {
			st, err := a.st.AccountState(ctx, ac.id)
			if err != nil {
				return nil, fmt.Errorf("jmap: state of account %d: %w", ac.id, err)
			}
			s := formatState(ac.id, st)
			for _, t := range mailTypes {
				if wants(t) {
					types[t] = s
				}
			}
		}
		if ac.personal {
			if err := a.ownStates(ctx, ac, wants, types); err != nil {
				return nil, err
			}
		}
		out[ac.jid] = types
	}
	return out, nil
}

// ownStates adds the states of the types only the user's own account has.
func (a *API) ownStates(ctx context.Context, ac *acct, wants func(string) bool, types map[string]string) error {
	if wants("Identity") {
		list, _, err := a.identities(ctx, ac)
		if err != nil {
			return err
		}
		types["Identity"] = identityState(list)
	}
	if wants("EmailSubmission") {
		list, err := a.submissions(ctx, ac)
		if err != nil {
			return err
		}
		types["EmailSubmission"] = submissionState(list)
	}
	if wants("VacationResponse") {
		_, _, state, err := a.vacation(ctx, ac)
		if err != nil {
			return err
		}
		types["VacationResponse"] = state
	}
	if wants("Quota") {
		list, err := a.quotas(ctx, ac)
		if err != nil {
			return err
		}
		types["Quota"] = quotaState(list)
	}
	return nil
}

// Watch implements jmap.States: it follows the change feed of the user's
// account and of every account sharing folders with them (another node's
// changes arrive on it too).
func (a *API) Watch(u jmap.User, wake func()) (stop func()) {
	sub := a.st.Subscribe(u.AccountID)
	done := make(chan struct{})
	follow := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		accounts, err := a.accounts(ctx, u)
		if err != nil {
			a.log.Warn("jmap: push: list accounts", "account", u.Email, "err", err)
			return
		}
		var others []int64
		for _, ac := range accounts[1:] {
			others = append(others, ac.id)
		}
		sub.Follow(others)
	}
	follow()
	go func() {
		defer sub.Close()
		for {
			select {
			case <-done:
				return
			case <-sub.Ready():
			}
			events, overflowed, closed := sub.Next()
			if closed {
				return
			}
			refollow := false
			for _, e := range events {
				if e.Kind == store.EventACLChanged {
					refollow = true
				}
			}
			if refollow {
				follow()
			}
			if len(events) > 0 || overflowed {
				wake()
			}
		}
	}()
	return func() { close(done) }
}
