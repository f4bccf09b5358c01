// Package junkfilter is the junk filter service: it scores inbound mail
// per recipient account with the statistical classifier of internal/junk
// (the account's own model over the shared base model), and trains the
// account's model from what its user does (a message moved into or out of
// Junk, the $Junk and $NotJunk keywords).
//
// The models live in the store (store.JunkStore), not in memory: an
// installation has many accounts and most of them receive little mail,
// so keeping every model loaded would cost memory for nothing. Scoring one
// message reads, in one read transaction, the counts of the message's own
// tokens in each recipient's model (an indexed lookup batch per model),
// builds small in-memory models of just those tokens and classifies with
// them over the base model; the result is exactly what the whole model
// would give, since a classification only looks at the message's tokens.
// Only the shared base model, which every classification reads, is kept
// whole in memory. Training writes only the message's tokens, and keeps
// each model within Config.MaxTokens.
package junkfilter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"mailroom/internal/junk"
	"mailroom/internal/store"
)

// Defaults of Config.
const (
	DefaultMaxTokens = 200_000
	DefaultQueueSize = 1024
)

// maxRead is how much of a message is read to tokenize it: junk.Tokens
// looks at no more than the first MiB.
const maxRead = 1 << 20

// Config configures a Filter.
type Config struct {
	// Threshold is the score from which a message is junk; 0 means
	// junk.DefaultThreshold.
	Threshold float64
	// MaxTokens bounds each model (each account's and the base model);
	// 0 means DefaultMaxTokens.
	MaxTokens int
	// QueueSize bounds the training events waiting for the trainer; 0
	// means DefaultQueueSize.
	QueueSize int
	Logger    *slog.Logger
}

// Store is what the filter needs of the store.
type Store interface {
	store.JunkStore
	OpenBody(ctx context.Context, mailboxID int64, uid uint32) (store.Body, error)
	UpdateFlags(ctx context.Context, mailboxID int64, upd store.FlagUpdate) (store.FlagResult, error)
}

// Filter scores and trains. It is safe for concurrent use; Close it
// before closing the store.
type Filter struct {
	st     Store
	params junk.Params
	max    int
	log    *slog.Logger

	// ctx is the trainer's; abort cancels it (Shutdown out of time).
	ctx   context.Context
	abort context.CancelFunc

	queue   chan event
	closing chan struct{}
	done    chan struct{}
	close   sync.Once
	sendMu  sync.RWMutex
	closed  bool // guarded by sendMu

	// The base model, cached whole (see baseModel). Loading it holds
	// baseMu, so concurrent deliveries load it once.
	baseMu    sync.Mutex
	base      *junk.Model
	baseStamp baseStamp

	// pending counts events queued or being trained, for Flush.
	mu      sync.Mutex
	pending int
	idle    *sync.Cond
}

// New starts a filter and its trainer.
func New(st Store, cfg Config) *Filter {
	p := junk.DefaultParams()
	if cfg.Threshold > 0 {
		p.Threshold = cfg.Threshold
		p.HamCutoff = min(p.HamCutoff, p.Threshold)
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Filter{st: st, params: p, max: cfg.MaxTokens, log: log,
		queue: make(chan event, cfg.QueueSize), closing: make(chan struct{}), done: make(chan struct{})}
	f.idle = sync.NewCond(&f.mu)
	f.ctx, f.abort = context.WithCancel(context.Background())
	go f.train()
	return f
}

// Threshold is the score from which a message is junk.
func (f *Filter) Threshold() float64 { return f.params.Threshold }

// Classify scores msg for each account (the delivery agent calls it once
// per inbound message, with every account that keeps a copy).
func (f *Filter) Classify(ctx context.Context, msg store.Staged, accountIDs []int64) ([]junk.Verdict, error) {
	if len(accountIDs) == 0 {
		return nil, nil
	}
	raw, err := readStaged(msg)
	if err != nil {
		return nil, fmt.Errorf("junk filter: read message: %w", err)
	}
	tokens := junk.Tokens(raw)
	hashes := junk.Hashes(tokens)
	base, err := f.baseModel(ctx)
	if err != nil {
		return nil, err
	}
	models, err := f.st.JunkModels(ctx, accountIDs, hashes)
	if err != nil {
		return nil, fmt.Errorf("junk filter: %w", err)
	}
	out := make([]junk.Verdict, len(accountIDs))
	for i := range accountIDs {
		out[i] = toModel(models[i]).ClassifyParams(tokens, base, f.params)
	}
	return out, nil
}

// baseModel returns the shared base model, kept whole in memory: every
// account's classification reads it, it changes rarely (mailroom junk
// train, maybe in another process) and it is bounded by MaxTokens (8 MB
// at the default). Whether it changed is one row read per message: the
// numbers of messages and tokens, which every training and pruning of it
// changes.
func (f *Filter) baseModel(ctx context.Context) (*junk.Model, error) {
	ms, err := f.st.JunkModels(ctx, []int64{store.JunkBaseModel}, nil)
	if err != nil {
		return nil, fmt.Errorf("junk filter: %w", err)
	}
	now := baseStamp{ms[0].Spam, ms[0].Ham, ms[0].Tokens}
	f.baseMu.Lock()
	defer f.baseMu.Unlock()
	if f.base != nil && f.baseStamp == now {
		return f.base, nil
	}
	if now.tokens == 0 {
		f.base, f.baseStamp = toModel(ms[0]), now
		return f.base, nil
	}
	whole, err := f.st.LoadJunkModel(ctx, store.JunkBaseModel)
	if err != nil {
		return nil, fmt.Errorf("junk filter: %w", err)
	}
	f.base = toModel(whole)
	f.baseStamp = baseStamp{whole.Spam, whole.Ham, whole.Tokens}
	f.log.Info("junk filter: base model loaded", "spam", whole.Spam, "ham", whole.Ham, "tokens", whole.Tokens)
	return f.base, nil
}

// baseStamp tells one state of the base model from another.
type baseStamp struct{ spam, ham, tokens int }

// toModel builds an in-memory model of the counts read.
func toModel(jm store.JunkModel) *junk.Model {
	m := junk.NewModel()
	m.AddMessages(int32(min(jm.Spam, 1<<31-1)), int32(min(jm.Ham, 1<<31-1)))
	for h, c := range jm.Counts {
		m.Add(h, c.Spam, c.Ham)
	}
	return m
}

func readStaged(msg store.Staged) ([]byte, error) {
	r, err := msg.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readMessage(r)
}

// readMessage reads what the tokenizer looks at. (It skips our own
// X-Mailroom-Junk field: a model that learned from the verdicts it gave
// would only confirm them.)
func readMessage(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, maxRead))
}
