package imapmigrate

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Jobs runs migrations inside the server (the webmail's "Import from
// another account"), one per account at a time, and remembers the last
// one of each account until the server stops.
type Jobs struct {
	mu     sync.Mutex
	jobs   map[int64]*Job
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewJobs returns an empty set of jobs; Close stops those that run.
func NewJobs() *Jobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &Jobs{jobs: map[int64]*Job{}, ctx: ctx, cancel: cancel}
}

// Job is one migration running or done.
type Job struct {
	mu       sync.Mutex
	status   JobStatus
	progress Progress
}

// JobStatus is what a page shows of a job.
type JobStatus struct {
	Source   string
	Started  time.Time
	Running  bool
	Progress Progress
	Folders  []FolderSummary // when done
	Copied   int
	Bytes    int64
	Flags    int
	Err      string // why it stopped, if it failed
	Elapsed  time.Duration
}

// FolderSummary is one folder of a finished job.
type FolderSummary struct {
	Name string
	FolderResult
}

// ErrJobRunning is Start's answer while the account's job runs.
var ErrJobRunning = errors.New("an import into this account is running")

// Start starts a migration for the account, which opts.Account names.
func (js *Jobs) Start(accountID int64, opts Options) (*Job, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.ctx.Err() != nil {
		return nil, errors.New("the server is stopping")
	}
	if j := js.jobs[accountID]; j != nil && j.Status().Running {
		return nil, ErrJobRunning
	}
	j := &Job{status: JobStatus{Source: opts.Source.String(), Started: time.Now(), Running: true}}
	js.jobs[accountID] = j
	opts.Progress = j.update
	js.wg.Add(1)
	go func() {
		defer js.wg.Done()
		res, err := Migrate(js.ctx, opts)
		j.finish(res, err)
	}()
	return j, nil
}

// Get returns the account's job running or last done, or nil.
func (js *Jobs) Get(accountID int64) *Job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.jobs[accountID]
}

// Close stops the running jobs (what they copied stays; a new run goes
// on from there) and waits for them.
func (js *Jobs) Close() {
	js.cancel()
	js.wg.Wait()
}

func (j *Job) update(p Progress) {
	j.mu.Lock()
	j.progress = p
	j.mu.Unlock()
}

func (j *Job) finish(res *Result, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.status.Running = false
	j.status.Elapsed = time.Since(j.status.Started)
	if res != nil {
		for name, f := range res.Folders {
			j.status.Folders = append(j.status.Folders, FolderSummary{Name: name, FolderResult: *f})
		}
		sort.Slice(j.status.Folders, func(a, b int) bool { return j.status.Folders[a].Name < j.status.Folders[b].Name })
		j.status.Copied, j.status.Bytes, j.status.Flags = res.Totals()
	}
	switch {
	case errors.Is(err, context.Canceled):
		j.status.Err = "stopped: the server is shutting down; start the import again to copy the rest"
	case err != nil:
		j.status.Err = err.Error()
	}
}

// Status is a copy of the job's state.
func (j *Job) Status() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.status
	s.Progress = j.progress
	if s.Running {
		s.Elapsed = time.Since(s.Started)
	}
	s.Elapsed = s.Elapsed.Round(time.Millisecond)
	return s
}

// Stopped reports whether Close was called.
func (js *Jobs) Stopped() bool { return js.ctx.Err() != nil }
