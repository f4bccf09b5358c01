package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// JMAP push latency: each probe holds an EventSource connection (RFC 8620
// §7.3) for a user of its own, delivers a message to that user over SMTP,
// and times the server's 250 (sent after the commit) to the arrival of
// the "event: state" that announces the delivery. The clients' load runs
// meanwhile, so the figure is the latency under that load. One delivery
// at a time per probe, and nothing else touches the probe's user, so
// every event is the delivery's.

// PushReport is what the push probes measured.
type PushReport struct {
	Probes     int `json:"probes"`
	Deliveries int `json:"deliveries"` // accepted with a 250
	Missed     int `json:"missed"`     // no event within the timeout
	Early      int `json:"early"`      // the event came before the 250 (counted as 0)
	// AfterReply is SMTP 250 → "event: state". The server commits, then
	// pushes and replies at about the same time, so this is a lower bound
	// of commit → event (an event before the 250 counts as 0); AfterDot,
	// from the end of DATA, is an upper bound, as in RunFeed.
	AfterReply Latency `json:"after_reply"`
	AfterDot   Latency `json:"after_dot"`
}

func (r *PushReport) writeText(w io.Writer) error {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
	_, err := fmt.Fprintf(w, "push: %d probes, %d deliveries, %d events missed, %d before the 250\n"+
		"  250 -> event: state:         p50 %s ms, p90 %s ms, p99 %s ms, max %s ms\n"+
		"  end of DATA -> event: state: p50 %s ms, p90 %s ms, p99 %s ms, max %s ms\n",
		r.Probes, r.Deliveries, r.Missed, r.Early, ms(r.AfterReply.P50), ms(r.AfterReply.P90), ms(r.AfterReply.P99), ms(r.AfterReply.Max),
		ms(r.AfterDot.P50), ms(r.AfterDot.P90), ms(r.AfterDot.P99), ms(r.AfterDot.Max))
	return err
}

// pushTimeout bounds the wait for one delivery's event.
const pushTimeout = 10 * time.Second

// runPushProbes runs one probe per jo.PushEvery clients until ctx ends or
// the deadline passes, and fills rep.
func runPushProbes(ctx context.Context, jo *JMAPOptions, o *Options, tlsConf *tls.Config, rec *recorder, deadline time.Time, rep *PushReport) {
	probes := (o.Clients + jo.PushEvery - 1) / jo.PushEvery
	var mu sync.Mutex
	h, hDot := &histogram{}, &histogram{}
	var wg sync.WaitGroup
	for i := range probes {
		user := fmt.Sprintf(o.Users, o.UserFirst+o.UserCount+i)
		c := &client{o: o, tls: tlsConf, rec: rec}
		wg.Go(func() {
			pr := &pushProbe{jo: jo, c: c, user: user}
			pr.run(ctx, deadline)
			mu.Lock()
			defer mu.Unlock()
			rep.Deliveries += pr.deliveries
			rep.Missed += pr.missed
			rep.Early += pr.early
			for _, d := range pr.latencies {
				h.add(d)
			}
			for _, d := range pr.afterDot {
				hDot.add(d)
			}
		})
	}
	wg.Wait()
	rep.Probes = probes
	rep.AfterReply, rep.AfterDot = latencyOf(h), latencyOf(hDot)
}

type pushProbe struct {
	jo   *JMAPOptions
	c    *client
	user string

	deliveries, missed, early int
	latencies, afterDot       []time.Duration
}

func (pr *pushProbe) run(ctx context.Context, deadline time.Time) {
	o := pr.c.o
	var tlsConf *tls.Config
	if pr.c.tls != nil {
		tlsConf = pr.c.tls.Clone() // a transport may add to its configuration; the run's is shared
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}} // no Timeout: the stream stays open
	defer hc.CloseIdleConnections()
	start := time.Now()
	events, stop, err := pr.connect(ctx, hc)
	pr.c.record(ctx, "EVENTSOURCE", start, err)
	if err != nil {
		return
	}
	defer stop()
	fo := FeedOptions{SMTPAddr: pr.jo.SMTPAddr, Auth: pr.jo.SMTPAuth, SMTPStartTLS: pr.jo.SMTPStartTLS,
		Insecure: o.Insecure, User: pr.user, Password: o.Password}
	smtpTLS := &tls.Config{InsecureSkipVerify: o.Insecure} // Insecure: the user's choice for test servers
	for n := 0; ctx.Err() == nil && (deadline.IsZero() || time.Now().Before(deadline)); n++ {
		sc, err := smtpSession(ctx, fo, smtpTLS)
		if err != nil {
			pr.c.record(ctx, "DELIVER", time.Now(), &connError{err})
			return
		}
		// Events of an earlier, missed delivery are not this one's.
		for len(events) > 0 {
			<-events
		}
		start = time.Now()
		msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: push latency %d\r\nMessage-ID: <push-%d-%d@loadgen>\r\n\r\npush probe\r\n",
			pr.user, pr.user, n, start.UnixNano(), n)
		tDot, err := sendOne(sc, pr.user, msg)
		t250 := time.Now()
		sc.Close()
		pr.c.record(ctx, "DELIVER", start, err)
		if err != nil {
			return
		}
		pr.deliveries++
		timer := time.NewTimer(pushTimeout)
		select {
		case at, ok := <-events:
			if !ok {
				timer.Stop()
				pr.c.record(ctx, "PUSH", t250, &connError{errors.New("the event source closed")})
				return
			}
			d := at.Sub(t250)
			if d < 0 {
				pr.early++
				d = 0
			}
			pr.latencies = append(pr.latencies, d)
			pr.afterDot = append(pr.afterDot, at.Sub(tDot))
			pr.c.rec.command("PUSH", d, nil)
		case <-timer.C:
			pr.missed++
			pr.c.record(ctx, "PUSH", t250, fmt.Errorf("no event: state within %v of the 250", pushTimeout))
		case <-ctx.Done():
		}
		timer.Stop()
		select {
		case <-time.After(pr.jo.PushGap):
		case <-ctx.Done():
		}
	}
}

// connect reads the session, opens the EventSource for EmailDelivery and
// returns a channel of the arrival times of its state events, and the
// function that closes it.
func (pr *pushProbe) connect(ctx context.Context, hc *http.Client) (<-chan time.Time, func(), error) {
	o := pr.c.o
	auth := basicAuth(pr.user, o.Password)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.baseURL()+"/.well-known/jmap", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, &connError{fmt.Errorf("session: %w", err)}
	}
	var sess struct {
		EventSourceURL string `json:"eventSourceUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || sess.EventSourceURL == "" {
		return nil, nil, fmt.Errorf("session of %s: HTTP %d, eventSourceUrl %q, %v", pr.user, resp.StatusCode, sess.EventSourceURL, err)
	}
	// The URL is a template (RFC 6570 level 1) of types, closeafter, ping.
	u := strings.NewReplacer("{types}", url.QueryEscape("EmailDelivery"), "{closeafter}", "no", "{ping}", "0").Replace(sess.EventSourceURL)
	sctx, cancel := context.WithCancel(ctx)
	req, err = http.NewRequestWithContext(sctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("event source: %w", err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "text/event-stream")
	resp, err = hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, &connError{fmt.Errorf("event source: %w", err)}
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("event source: HTTP %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan time.Time, 16)
	go readStateEvents(resp.Body, events)
	return events, func() { cancel(); resp.Body.Close() }, nil
}

// readStateEvents sends the arrival time of every "state" event of a
// server-sent event stream, and closes events when the stream ends.
func readStateEvents(body io.Reader, events chan<- time.Time) {
	defer close(events)
	sc := bufio.NewScanner(body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "state" {
				select {
				case events <- time.Now():
				default: // the probe is not waiting; a later drain would drop it anyway
				}
			}
			event = ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		}
	}
}

// sendOne sends one message on sc and returns when its DATA ended (the
// final dot sent); it returns after the reply to it.
func sendOne(sc *gosmtp.Client, user, msg string) (time.Time, error) {
	if err := sc.Mail(user, nil); err != nil {
		return time.Time{}, fmt.Errorf("MAIL: %w", err)
	}
	if err := sc.Rcpt(user, nil); err != nil {
		return time.Time{}, fmt.Errorf("RCPT: %w", err)
	}
	w, err := sc.Data()
	if err != nil {
		return time.Time{}, fmt.Errorf("DATA: %w", err)
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return time.Time{}, fmt.Errorf("DATA: %w", err)
	}
	dot := time.Now()
	if err := w.Close(); err != nil {
		return dot, fmt.Errorf("end of DATA: %w", err)
	}
	return dot, nil
}
