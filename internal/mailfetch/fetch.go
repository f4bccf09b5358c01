// Package mailfetch collects mail from the accounts' mailboxes on other
// servers (store.FetchSources): a POP3 maildrop, left on the server unless
// the user asks otherwise, with its unique ids recorded so that nothing is
// collected twice; or an IMAP folder, with its UIDVALIDITY and last UID
// recorded, never changed unless the user asks to mark collected mail read
// or to delete it.
//
// A collected message goes to the account as local mail does: into INBOX
// through the delivery agent (the account's Sieve filters and junk
// filter), or straight into the folder the user chose. Its id is recorded
// only once it is durable here, so a crash in between collects it again
// on the next run: at least once, never lost. A message the account's
// quota refuses stays on the remote and ends the run; the next run tries
// it again.
package mailfetch

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailroom/internal/delivery"
	"mailroom/internal/store"
)

// Store is what the fetcher needs of the store.
type Store interface {
	store.FetchSources
	store.Leases
	Stage(ctx context.Context, r io.Reader) (store.Staged, error)
	Accounts(ctx context.Context) ([]store.Account, error)
	Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error)
}

// Deliverer delivers into INBOX the way inbound mail is (the delivery
// agent).
type Deliverer interface {
	Deliver(ctx context.Context, msg store.Staged, env delivery.Envelope) error
}

// Appender stores into a chosen mailbox (the mailbox service).
type Appender interface {
	Append(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error)
}

// Config configures a Fetcher.
type Config struct {
	Store     Store
	Deliver   Deliverer
	Mailboxes Appender
	// Interval is how often each source is collected.
	Interval time.Duration
	// Concurrency bounds the sources collected at once on this node.
	Concurrency int
	// Timeout bounds connecting and each exchange with the remote.
	Timeout time.Duration
	// RunTimeout bounds one run of one source.
	RunTimeout time.Duration
	// MaxMessageSize is the largest message collected; bigger ones stay
	// on the remote.
	MaxMessageSize int64
	// RootCAs verify the remote servers' certificates; nil: the
	// system's.
	RootCAs *x509.CertPool
	Logger  *slog.Logger
}

// Fetcher runs the sources on schedule and on demand.
type Fetcher struct {
	cfg   Config
	st    Store
	log   *slog.Logger
	owner string // this node's lease owner token

	mu      sync.Mutex
	running map[int64]bool // sources being collected by this node
	sem     chan struct{}
	wake    chan struct{}
}

// New returns a Fetcher; Run starts the schedule.
func New(cfg Config) *Fetcher {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Minute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = 30 * time.Minute
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 50 << 20
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	rand.Read(b[:])
	return &Fetcher{cfg: cfg, st: cfg.Store, log: log, owner: "fetch-" + hex.EncodeToString(b[:]),
		running: map[int64]bool{}, sem: make(chan struct{}, cfg.Concurrency), wake: make(chan struct{}, 1)}
}

func (f *Fetcher) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: f.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

func addrOf(src store.FetchSource) string {
	return net.JoinHostPort(src.Host, strconv.Itoa(src.Port))
}

// Result is what one run did.
type Result struct {
	Fetched  int
	TooBig   int      // messages over the size limit, left on the remote
	Warnings []string // what went wrong without failing the run
	limit    int64
}

func (r *Result) tooBig(size, limit int64) {
	r.TooBig++
	r.limit = limit
}

// ErrBusy is returned when the source is being collected already, here or
// on another node.
var ErrBusy = errors.New("mail is being collected from this account right now")

// RunSource collects one source now (a user's "fetch now") and records
// the outcome in its status.
func (f *Fetcher) RunSource(ctx context.Context, acct store.Account, id int64) (Result, error) {
	src, err := f.st.FetchSource(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if src.AccountID != acct.ID {
		return Result{}, fmt.Errorf("source %d: %w", id, store.ErrNotFound)
	}
	if !f.claim(src.ID) {
		return Result{}, ErrBusy
	}
	defer f.unclaim(src.ID)
	return f.runLeased(ctx, acct, src)
}

func (f *Fetcher) claim(id int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running[id] {
		return false
	}
	f.running[id] = true
	return true
}

func (f *Fetcher) unclaim(id int64) {
	f.mu.Lock()
	delete(f.running, id)
	f.mu.Unlock()
}

// runLeased runs src under its lease, so that one node at a time
// collects it, and records the status.
func (f *Fetcher) runLeased(ctx context.Context, acct store.Account, src store.FetchSource) (Result, error) {
	lease := "fetch/" + strconv.FormatInt(src.ID, 10)
	ok, err := f.st.AcquireLease(ctx, lease, f.owner, time.Now().Add(f.cfg.RunTimeout+time.Minute))
	if err != nil {
		return Result{}, fmt.Errorf("take the lease of source %d: %w", src.ID, err)
	}
	if !ok {
		return Result{}, ErrBusy
	}
	defer f.st.ReleaseLease(context.WithoutCancel(ctx), lease, f.owner)
	// The lease taken, the state read before it may be stale.
	if src, err = f.st.FetchSource(ctx, src.ID); err != nil {
		return Result{}, err
	}
	started := time.Now()
	rctx, cancel := context.WithTimeout(ctx, f.cfg.RunTimeout)
	res, err := f.run(rctx, acct, src)
	cancel()
	status := src.FetchStatus
	status.LastAttempt = started
	if err != nil {
		status.Failures++
		status.LastError = describe(err, src)
		f.log.Info("collecting mail failed", "account", acct.Email, "source", src.ID, "host", src.Host,
			"fetched", res.Fetched, "error", status.LastError)
	} else {
		status.Failures, status.LastSuccess, status.LastError = 0, time.Now(), ""
		if res.TooBig > 0 {
			status.LastError = fmt.Sprintf("%d messages are larger than this server accepts (%d MB) and were left on the other server",
				res.TooBig, res.limit>>20)
		}
		if len(res.Warnings) > 0 {
			status.LastError = strings.TrimPrefix(status.LastError+"; "+strings.Join(res.Warnings, "; "), "; ")
		}
		f.log.Debug("collected mail", "account", acct.Email, "source", src.ID, "fetched", res.Fetched)
	}
	if serr := f.st.SetFetchStatus(context.WithoutCancel(ctx), src.ID, status); serr != nil && !errors.Is(serr, store.ErrNotFound) {
		f.log.Warn("could not record the status of a source", "source", src.ID, "error", serr)
	}
	return res, err
}

// run collects src once.
func (f *Fetcher) run(ctx context.Context, acct store.Account, src store.FetchSource) (Result, error) {
	var res Result
	var err error
	if src.Protocol == store.FetchPOP3 {
		err = f.fetchPOP3(ctx, acct, src, &res)
	} else {
		err = f.fetchIMAP(ctx, acct, src, &res)
	}
	return res, err
}

// Test connects to src and logs in, touching nothing: the settings
// page's "test connection". It returns what it found, in words.
func (f *Fetcher) Test(ctx context.Context, src store.FetchSource) (string, error) {
	if err := store.CheckFetchSource(&src); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*f.cfg.Timeout)
	defer cancel()
	var msg string
	var err error
	if src.Protocol == store.FetchPOP3 {
		msg, err = f.testPOP3(ctx, src)
	} else {
		msg, err = f.testIMAP(ctx, src)
	}
	if err != nil {
		return "", errors.New(describe(err, src))
	}
	return msg, nil
}

// errLogin marks a refused login.
type errLogin struct{ err error }

func (e errLogin) Error() string { return e.err.Error() }
func (e errLogin) Unwrap() error { return e.err }

func loginError(err error) error { return errLogin{err} }

// errFull is a run ended by the account's quota.
var errFull = errors.New("your mailbox here is full: the rest of the mail waits on the other server and is collected once there is room")

// describe turns a run's error into words for the user: what failed and
// what the server said. The password never appears in it (no command line
// is ever quoted).
func describe(err error, src store.FetchSource) string {
	var le errLogin
	var re *RemoteError
	var ne net.Error
	var cv *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("%s did not answer in time: %v", addrOf(src), err)
	case errors.As(err, &cv):
		return fmt.Sprintf("the certificate of %s cannot be trusted: %v", src.Host, cv.Err)
	case errors.As(err, &le):
		if errors.As(err, &re) {
			return fmt.Sprintf("login failed: the server said %q", re.Text)
		}
		return "login failed: " + imapText(le.err)
	case errors.Is(err, errFull):
		return err.Error()
	}
	return err.Error()
}

// stage writes one message to the body store, refusing one over the
// size limit (the remote may send more than it announced).
func (f *Fetcher) stage(ctx context.Context, r io.Reader) (store.Staged, error) {
	lr := &limitReader{r: r, left: f.cfg.MaxMessageSize}
	msg, err := f.st.Stage(ctx, lr)
	if err != nil {
		if lr.over {
			return nil, fmt.Errorf("a message is larger than %d MB, the most this server accepts", f.cfg.MaxMessageSize>>20)
		}
		return nil, fmt.Errorf("store a collected message: %w", err)
	}
	return msg, nil
}

type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells "exactly the limit" from "over it".
		var b [1]byte
		if n, _ := l.r.Read(b[:]); n > 0 {
			l.over = true
			return 0, errors.New("message too large")
		}
		return l.r.Read(p)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// deliver stores a staged message for acct: into INBOX through the
// delivery agent, or into src's mailbox. It reports false for a message
// the account's Sieve script refused or discarded on purpose (collected
// all the same: it must not come back). The staged body is released in
// every case.
func (f *Fetcher) deliver(ctx context.Context, acct store.Account, src store.FetchSource, msg store.Staged) (bool, error) {
	defer msg.Discard() // a no-op once delivered
	var err error
	if strings.EqualFold(src.Mailbox, "INBOX") {
		// The envelope sender is unknown here, and a collected message
		// must start no automatic answers (vacation, bounces): the null
		// sender, as for a notice.
		err = f.cfg.Deliver.Deliver(ctx, msg, delivery.Envelope{
			Recipients: []delivery.Recipient{{Address: acct.Email, Resolved: delivery.Resolved{Accounts: []store.Account{acct}}}},
			Inbound:    true,
		})
	} else {
		var mb store.Mailbox
		mb, err = f.st.Mailbox(ctx, acct.ID, src.Mailbox)
		if errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("the folder %q to collect into does not exist here", src.Mailbox)
		}
		if err == nil {
			_, err = f.cfg.Mailboxes.Append(ctx, msg, []store.Target{{MailboxID: mb.ID}})
		}
	}
	var oq *store.OverQuotaError
	var de *delivery.Error
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &oq):
		return false, errFull
	case errors.As(err, &de) && !de.Temporary():
		// The account's own filter refused it: collected, not kept.
		f.log.Info("collected message refused by the account's filter", "account", acct.Email, "source", src.ID, "reply", de.Msg)
		return false, nil
	}
	return false, fmt.Errorf("storing a collected message: %w", err)
}
