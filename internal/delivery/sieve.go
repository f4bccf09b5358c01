package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"

	"mailroom/internal/dsn"
	"mailroom/internal/junk"
	"mailroom/internal/mailbox"
	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// rejection is an account whose script refused the message (RFC 5429).
type rejection struct {
	step   step
	reject sieve.Reject
}

// duplicateRecord is an id for Sieve's duplicate test (RFC 7352), recorded
// once the message is stored.
type duplicateRecord struct {
	accountID int64
	sieve.Duplicate
}

// notStored are the accounts that got no copy: over quota, or refused by
// their script (their senders get the "failed" report instead).
func (p *plan) notStored() map[int64]bool {
	out := maps.Clone(p.refused)
	if out == nil {
		out = map[int64]bool{}
	}
	for _, r := range p.rejected {
		out[r.step.acct.ID] = true
	}
	return out
}

// loadPrefs reads and compiles an account's active Sieve script. A script
// that does not compile (an included script deleted since, a limit
// lowered) is logged and runs as no script: the mail goes to INBOX.
func (a *Agent) loadPrefs(ctx context.Context, accountID int64) (prefs, error) {
	sc, err := a.st.ActiveSieveScript(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return prefs{}, nil
	}
	if err != nil {
		return prefs{}, fmt.Errorf("delivery: read the active Sieve script: %w", err)
	}
	s, err := sieve.CompileContext(ctx, sc.Content, includes{a: a, accountID: accountID}, a.cfg.SieveLimits)
	if err != nil {
		var se *sieve.Error
		if !errors.As(err, &se) {
			return prefs{}, fmt.Errorf("delivery: compile the active Sieve script: %w", err)
		}
		a.log.Warn("the account's active Sieve script does not compile: its mail goes to INBOX", "account_id", accountID, "script", sc.Name, "err", err)
		return prefs{scriptName: sc.Name}, nil
	}
	return prefs{script: s, scriptName: sc.Name, size: len(sc.Content)}, nil
}

// includes finds the scripts an account's script includes: its own, and
// the server's in Config.SieveGlobalDir.
type includes struct {
	a         *Agent
	accountID int64
}

func (i includes) Personal(ctx context.Context, name string) (string, error) {
	sc, err := i.a.st.SieveScript(ctx, i.accountID, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", sieve.ErrNoScript
	}
	return sc.Content, err
}

func (i includes) Global(_ context.Context, name string) (string, error) {
	return ReadGlobalScript(i.a.cfg.SieveGlobalDir, name)
}

// ReadGlobalScript reads the server's script name from dir (NAME.sieve),
// sieve.ErrNoScript if there is none.
func ReadGlobalScript(dir, name string) (string, error) {
	if dir == "" || name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", sieve.ErrNoScript
	}
	f, err := os.Open(filepath.Join(dir, name+".sieve"))
	if errors.Is(err, os.ErrNotExist) {
		return "", sieve.ErrNoScript
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, sieve.DefaultMaxScriptSize+1))
	return string(b), err
}

// evaluate runs the global script and the account's own on the message
// for s. A script that fails (a runtime error, a limit) is logged and
// leaves the implicit keep alone: the message is never lost to a script.
func (a *Agent) evaluate(ctx context.Context, p *plan, env Envelope, s step, pr prefs, v *junk.Verdict) *sieve.Result {
	if a.cfg.SieveBefore == nil && pr.script == nil {
		return &sieve.Result{Keep: true}
	}
	h, err := p.headerOf()
	if err != nil {
		a.log.Error("Sieve not run: the header could not be read", "account", s.acct.Email, "err", err)
		return &sieve.Result{Keep: true}
	}
	in := sieve.Input{
		Message: sieve.NewMessage(h, int(p.msg.Size()), func() ([]byte, error) { return readBody(p.msg) }),
		From:    env.From,
		To:      s.rcpt.Address,
		Auth:    env.AuthUser,
		Now:     a.now(),
	}
	in.SpamScore, in.SpamPercent = spamScore(env, v)
	res, err := sieve.Run(ctx, in, sieveEnv{a: a, accountID: s.acct.ID}, a.cfg.SieveBefore, pr.script)
	if err != nil {
		a.log.Warn("Sieve script failed: the message goes to INBOX", "account", s.acct.Email, "script", pr.scriptName, "err", err)
	}
	return res
}

// spamScore maps the junk filter's verdict onto spamtest's scales (RFC
// 5235): 1–10 and 0–100, 0 and -1 when the message was not scored. A
// message quarantined before delivery (DMARC, a blocklist) is junk for
// certain.
func spamScore(env Envelope, v *junk.Verdict) (score, percent int) {
	switch {
	case len(env.Quarantine) > 0:
		return 10, 100
	case v == nil || (v.Clues == 0 && !v.Junk):
		return 0, -1
	}
	return 1 + int(math.Round(9*v.Score)), int(math.Round(100 * v.Score))
}

// readBody reads what body tests see of the message: its body, at most
// sieve.MaxBody octets.
func readBody(msg store.Staged) ([]byte, error) {
	r, err := msg.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	start := int64(0)
	if st := msg.Structure(); st != nil && st.Root != nil {
		start = st.Root.BodyStart
	}
	if _, err := io.CopyN(io.Discard, r, start); err != nil && err != io.EOF {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, sieve.MaxBody))
}

// sieveEnv answers the scripts' questions about the account.
type sieveEnv struct {
	a         *Agent
	accountID int64
}

func (e sieveEnv) MailboxExists(ctx context.Context, name string) (bool, error) {
	if strings.EqualFold(name, "INBOX") {
		return true, nil
	}
	_, err := e.a.st.Mailbox(ctx, e.accountID, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (e sieveEnv) DuplicateSeen(ctx context.Context, id string) (bool, error) {
	return e.a.st.SieveDuplicateSeen(ctx, e.accountID, id, e.a.now())
}

// addTargets adds the local copies the script decided for s: the keep
// (to INBOX, or Junk for junk) and each fileinto, one copy per mailbox
// with the flags of the actions that chose it.
func (a *Agent) addTargets(ctx context.Context, p *plan, env Envelope, s step, res *sieve.Result, keep bool, v *junk.Verdict) error {
	dest, field, junkReason, err := a.destination(ctx, s.acct, env, v)
	if err != nil {
		return err
	}
	prefix := append(tracePrefix(env.From, s.acct.Email, s.chain...), field...)
	add := func(mailboxID int64, flags []string) {
		sf, kw := storeFlags(flags)
		for i := range p.targets {
			if p.owners[i].acct.ID == s.acct.ID && p.targets[i].MailboxID == mailboxID {
				p.targets[i].Flags |= sf
				p.targets[i].Keywords = mergeKeywords(p.targets[i].Keywords, kw)
				return
			}
		}
		p.targets = append(p.targets, store.Target{MailboxID: mailboxID, Flags: sf, Keywords: kw, HeaderPrefix: prefix})
		p.owners = append(p.owners, s)
	}
	for _, f := range res.FileInto {
		id, err := a.fileintoMailbox(ctx, s.acct, f)
		if err != nil {
			return err
		}
		if id == 0 {
			keep = true // no such mailbox: the copy goes where keep puts it
			continue
		}
		add(id, f.Flags)
	}
	if keep {
		add(dest, res.KeepFlags)
		if junkReason != "" {
			p.junked = append(p.junked, junkedCopy{s.acct.ID, junkReason})
		}
	}
	return nil
}

// fileintoMailbox finds the mailbox of a fileinto, creating it for
// :create (RFC 5490 3.2). It returns 0 when the mailbox does not exist and
// may not be created: RFC 5228 4.1 lets the message be kept instead.
func (a *Agent) fileintoMailbox(ctx context.Context, acct store.Account, f sieve.FileInto) (int64, error) {
	if strings.EqualFold(f.Mailbox, "INBOX") {
		return a.inbox(ctx, acct.ID)
	}
	if otherNamespace(f.Mailbox) {
		// Other users' and shared folders are reached through their
		// owners' rights, which a filter does not act with: the copy stays
		// here, and no personal folder of that name is made (it would be
		// hidden behind the namespace).
		a.log.Info("Sieve fileinto another user's or a shared folder: the message goes to INBOX", "account", acct.Email, "mailbox", f.Mailbox)
		return 0, nil
	}
	mb, err := a.st.Mailbox(ctx, acct.ID, f.Mailbox)
	if errors.Is(err, store.ErrNotFound) && f.Create {
		mb, err = a.st.CreateMailbox(ctx, acct.ID, f.Mailbox, "")
		if errors.Is(err, store.ErrExists) {
			mb, err = a.st.Mailbox(ctx, acct.ID, f.Mailbox)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			// A name the store refuses: kept in INBOX, like a missing one.
			a.log.Warn("Sieve fileinto :create refused: the message goes to INBOX", "account", acct.Email, "mailbox", f.Mailbox, "err", err)
			return 0, nil
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		a.log.Info("Sieve fileinto a mailbox that does not exist: the message goes to INBOX", "account", acct.Email, "mailbox", f.Mailbox)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return mb.ID, nil
}

// otherNamespace reports whether name lies in the "Other Users/" or
// "Shared/" namespace (docs/operations.md, "Shared folders").
func otherNamespace(name string) bool {
	for _, ns := range []string{mailbox.OtherUsersPrefix, mailbox.SharedPrefix} {
		if strings.HasPrefix(name, ns) || name == strings.TrimSuffix(ns, store.Delimiter) {
			return true
		}
	}
	return false
}

// storeFlags splits a script's flag names into system flags and keywords;
// a name that is neither is left out.
func storeFlags(names []string) (store.Flags, []string) {
	var f store.Flags
	var kw []string
	for _, n := range names {
		if sf, ok := store.ParseFlag(n); ok {
			f |= sf
		} else if store.ValidKeyword(n) {
			kw = append(kw, n)
		}
	}
	return f, kw
}

func mergeKeywords(a, b []string) []string {
	for _, k := range b {
		found := false
		for _, x := range a {
			found = found || strings.EqualFold(x, k)
		}
		if !found {
			a = append(a, k)
		}
	}
	return a
}

// rejectError is the reply at DATA when every recipient's script refused
// the message: the refusal in the SMTP dialogue itself (RFC 5429 2.1,
// 2.2), which is what both reject and ereject prefer.
func rejectError(p *plan) *Error {
	reason := p.rejected[0].reject.Reason
	e := errorf(550, [3]int{5, 7, 1}, "%s", sanitizeReason(reason))
	e.Err = ErrSieveReject
	return e
}

// ErrSieveReject is wrapped by the error of a message every recipient's
// Sieve script refused, so that callers can tell it from a policy refusal
// with the same reply (the metrics count it apart).
var ErrSieveReject = errors.New("rejected by Sieve")

// sanitizeReason makes a script's reason safe on one SMTP reply line.
func sanitizeReason(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		s = "rejected by the recipient's filter"
	}
	if len(s) > 400 {
		s = s[:400]
	}
	return s
}

// bounceRejected reports to the sender the recipients whose scripts
// refused a message others got: a delivery status notification, since
// the SMTP reply to DATA is one for all (RFC 5429 2.1 allows a DSN). Never
// to the null sender.
func (a *Agent) bounceRejected(ctx context.Context, msg store.Staged, env Envelope, p *plan) {
	if env.From == "" {
		return
	}
	now := a.now()
	var rcpts []dsn.Recipient
	for _, r := range p.rejected {
		if !dsn.ShouldNotify(env.From, r.step.rcpt.DSNNotify, dsn.ActionFailed) {
			continue
		}
		reason := sanitizeReason(r.reject.Reason)
		rcpts = append(rcpts, dsn.Recipient{Original: r.step.rcpt.DSNORcpt, Final: r.step.acct.Email, Action: dsn.ActionFailed,
			Status: "5.7.1", Diagnostic: "550 5.7.1 " + reason, Explanation: "The recipient's filter refused the message: " + reason, LastAttempt: now})
	}
	if len(rcpts) == 0 {
		return
	}
	if err := a.sendReport(ctx, msg, env, rcpts, now); err != nil {
		a.log.Error("Sieve rejection report not sent", "to", env.From, "err", err)
	}
}

// recordDuplicates records the ids of Sieve's duplicate tests once the
// message is stored. A failure costs only a later duplicate going
// unrecognised.
func (a *Agent) recordDuplicates(ctx context.Context, p *plan) {
	now := a.now()
	for _, d := range p.duplicates {
		if err := a.st.RecordSieveDuplicate(ctx, d.accountID, d.ID, now.Add(d.Period)); err != nil {
			a.log.Error("Sieve duplicate id not recorded", "account_id", d.accountID, "err", err)
		}
	}
}

// CompileBefore compiles the server's global script (sieve.before) from
// path; it may include :global scripts from globalDir, not personal ones.
// "" compiles nothing.
func CompileBefore(path, globalDir string, lim sieve.Limits) (*sieve.Script, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sieve.before: %w", err)
	}
	s, err := sieve.Compile(string(b), globalIncludes(globalDir), lim)
	if err != nil {
		return nil, fmt.Errorf("sieve.before: %s: %w", path, err)
	}
	return s, nil
}

// globalIncludes finds the server's scripts only.
type globalIncludes string

func (g globalIncludes) Personal(context.Context, string) (string, error) {
	return "", sieve.ErrNoScript
}
func (g globalIncludes) Global(_ context.Context, name string) (string, error) {
	return ReadGlobalScript(string(g), name)
}
