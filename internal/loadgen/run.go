package loadgen

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A driver speaks one protocol for one simulated client. Each client has its
// own driver, so a driver keeps per-client state (connection, scratch
// buffers) without locks.
type driver interface {
	// cycle runs one unit of work (a typical client session) as user,
	// recording every command through c.record. Problems are recorded, not
	// returned: the run goes on, and the client reconnects next cycle.
	cycle(ctx context.Context, c *client, user string)
	// close releases what the driver keeps between cycles.
	close()
}

// client is what the shared loop gives a driver: the options, the TLS
// configuration and a place to record results.
type client struct {
	o     *Options
	tls   *tls.Config // nil without TLS or STARTTLS
	rec   *recorder
	users []string
	next  int   // index into users of the next cycle's user
	errs  int   // errors recorded so far, to tell a clean cycle from a failed one
	bytes int64 // wire bytes of this client's connections

	laddr *net.TCPAddr // source address (Options.LocalAddrs), nil for any
}

// record records one command that started at start. err is nil on success;
// a connError means there was no answer, so no latency. Errors caused by the
// caller cancelling ctx are not the server's fault and are not counted.
func (c *client) record(ctx context.Context, name string, start time.Time, err error) {
	if err != nil && ctxDone(ctx) {
		return
	}
	latency := time.Duration(-1)
	if err == nil || !isConnError(err) {
		latency = time.Since(start)
	}
	if err != nil {
		c.errs++
	}
	c.rec.command(name, latency, err)
}

// run drives o.Clients clients, each with a driver from newDriver, until
// o.Duration has passed, o.Cycles cycles were started, or ctx is done. A
// cycle that is running when Duration ends is finished, not cut short, so
// that stopping does not show up as errors. If ctx ends the run, the report
// so far comes with ctx's error.
func run(ctx context.Context, protocol string, o Options, newDriver func() driver) (*Report, error) {
	return runSide(ctx, protocol, o, newDriver, nil)
}

// A sideTask runs beside a run's clients (JMAP's push probes), recording
// into the same recorder. Its ctx ends when the last client has stopped,
// so it never outlives the measured period; it must return soon after.
type sideTask func(ctx context.Context, o *Options, tlsConf *tls.Config, rec *recorder, deadline time.Time)

// runSide is run with an optional side task.
func runSide(ctx context.Context, protocol string, o Options, newDriver func() driver, side sideTask) (*Report, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if o.TLS || o.StartTLS {
		tlsConf = clientTLSConfig(&o)
	}
	rec := newRecorder()
	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var started atomic.Int64 // cycles claimed against o.Cycles
	var wg sync.WaitGroup
	for i := range o.Clients {
		c := &client{o: &o, tls: tlsConf, rec: rec, users: o.usersOf(i), laddr: o.localAddr(i)}
		d := newDriver()
		wg.Go(func() {
			defer func() {
				d.close()
				rec.addBytes(c.bytes)
			}()
			for !ctxDone(ctx) {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				if o.Cycles > 0 && started.Add(1) > int64(o.Cycles) {
					return
				}
				user := c.users[c.next]
				c.next = (c.next + 1) % len(c.users)
				errs := c.errs
				d.cycle(ctx, c, user)
				if c.errs == errs && !ctxDone(ctx) {
					rec.cycleDone()
				}
			}
		})
	}
	if side != nil {
		sideCtx, stop := context.WithCancel(ctx)
		var sideDone sync.WaitGroup
		sideDone.Go(func() { side(sideCtx, &o, tlsConf, rec, deadline) })
		wg.Wait()
		stop()
		sideDone.Wait()
	} else {
		wg.Wait()
	}
	return rec.report(protocol, o.Clients, time.Since(start)), ctx.Err()
}

// ctxDone reports whether ctx has ended or is about to: past its deadline,
// ctx.Err() may still be nil for a moment while the dialer (which watches
// the deadline itself) already failed because of it.
func ctxDone(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// clientTLSConfig is shared by all clients of a run. The session cache lets
// reconnecting clients resume TLS sessions, as real mail clients do; without
// it every cycle would pay (and make the server pay) a full handshake.
func clientTLSConfig(o *Options) *tls.Config {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		host = o.Addr
	}
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: o.Insecure,
		ClientSessionCache: tls.NewLRUClientSessionCache(o.Clients),
	}
}
